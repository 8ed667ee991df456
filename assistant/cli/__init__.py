"""The ``assistant`` command line: ``main`` parses and dispatches (``assistant.cli.main``);
``finetune`` and ``serve`` hold the subcommands that need the most wiring."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``assistant`` command; the console script's entry point."""
    from assistant.cli.main import main as _main

    return _main(argv)


__all__ = ["main"]
