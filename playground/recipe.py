"""Figure recipes: the JSON beside an exported figure that says how to make it again, and reading it back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = "transformer-playground-recipe"
VERSION = 1
SUFFIX = ".recipe.json"


class RecipeError(ValueError):
    """A recipe file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Recipe:
    """Which view drew the figure, from which model (its source and weights fingerprint), with
    which heads knocked out, and the view's own settings (texts, tokens, seed, selection…)."""

    view: str
    model_source: str
    model_fingerprint: str
    settings: dict = field(default_factory=dict)
    ablation: tuple[tuple[int, int], ...] = ()
    ablation_mode: str = "zero"
    model_name: str = ""
    figure: str = ""  # the file it was written beside

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "view": self.view,
                "model": {
                    "source": self.model_source,
                    "fingerprint": self.model_fingerprint,
                    "name": self.model_name,
                },
                "ablation": {"heads": [list(h) for h in self.ablation], "mode": self.ablation_mode},
                "settings": self.settings,
                "figure": self.figure,
            },
            indent=1,
            ensure_ascii=False,
        )


def recipe_path(figure: str | Path) -> Path:
    """sweep.svg -> sweep.svg.recipe.json: one recipe per exported file (att.png's and att.npy's
    recipes once shared one name, the second overwriting the first)."""
    figure = Path(figure)
    return figure.with_name(figure.name + SUFFIX)


def write_recipe(figure: str | Path, recipe: Recipe) -> Path:
    path = recipe_path(figure)
    path.write_text(recipe.to_json(), encoding="utf-8")
    return path


def read_recipe(path: str | Path, views: tuple[str, ...]) -> Recipe:
    """The recipe in `path`, checked; RecipeError says what is wrong with it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RecipeError(f"Could not read {path.name}: {e.strerror or e}.") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecipeError(f"{path.name} is not a recipe: it is not JSON ({e}).") from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecipeError(f"{path.name} is not a Transformer Playground recipe.")
    if data.get("version") != VERSION:
        raise RecipeError(
            f"{path.name} is a recipe of version {data.get('version')}; this app reads {VERSION}."
        )
    try:
        model, ablation = data["model"], data.get("ablation", {})
        recipe = Recipe(
            view=str(data["view"]),
            model_source=str(model["source"]),
            model_fingerprint=str(model.get("fingerprint", "")),
            settings=dict(data.get("settings", {})),
            ablation=tuple((int(layer), int(head)) for layer, head in ablation.get("heads", [])),
            ablation_mode=str(ablation.get("mode", "zero")),
            model_name=str(model.get("name", "")),
            figure=str(data.get("figure", "")),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise RecipeError(f"{path.name} is missing a field or has one of the wrong kind ({e}).") from e
    if recipe.view not in views:
        raise RecipeError(f"{path.name} is for a view this app does not have: '{recipe.view}'.")
    if not recipe.model_source:
        raise RecipeError(
            f"{path.name} was made with a model trained here and never saved: save the model, "
            "then export the figure again."
        )
    return recipe


def recipe_for(client, view: str, settings: dict, figure: str = "") -> Recipe | None:
    """The recipe of a figure a view draws now: the client's model and ablation, the view's
    settings. None while no model is open."""
    info = client.info
    if info is None:
        return None
    heads, mode = client.ablation
    return Recipe(view, info.source, info.fingerprint, settings, heads, mode, info.name, figure)
