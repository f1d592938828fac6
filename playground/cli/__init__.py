"""The command line: `playground` starts the app (cli/app.py); `playground train|finetune ...` train
headless (cli/train.py, cli/finetune.py); `playground sweep ...` fits a scaling law (cli/sweep.py)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from playground.cli.train import main as train_main

        return train_main(argv[1:])
    if argv[:1] == ["sweep"]:
        from playground.cli.sweep import main as sweep_main

        return sweep_main(argv[1:])
    if argv[:1] == ["finetune"]:
        from playground.cli.finetune import main as finetune_main

        return finetune_main(argv[1:])
    from playground.cli.app import main as app_main

    return app_main(argv)
