"""The `playground` command: the app, or `playground train|finetune ...` to train headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from playground.train_cli import main as train_main

        return train_main(argv[1:])
    if argv[:1] == ["finetune"]:
        from playground.finetune_cli import main as finetune_main

        return finetune_main(argv[1:])
    from playground.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
