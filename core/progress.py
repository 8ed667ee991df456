"""How long work shows progress: a bar on a terminal, plain lines in a log, or nothing.

``Progress`` is what long-running functions take: ``True`` for a tqdm bar (an interactive
terminal), a ``ProgressLines`` for one plain stderr line now and then (a log file, CI, a
container: a bar's carriage returns make one unreadable line there), ``False`` for
silence. ``track`` wraps an iterable in whichever was asked for.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


class ProgressLines:
    """Plain progress lines, ``"{prefix}: {stage} {done}/{total} {unit}"``: the first and
    the last of each stage, and at most one every ``every`` seconds between them; none for
    a stage with nothing to do."""

    def __init__(self, prefix: str, every: float = 15.0, stream: TextIO | None = None) -> None:
        self.prefix = prefix
        self.every = every
        self.stream = stream
        self._last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int, unit: str = "") -> None:
        if total == 0:
            return  # nothing to do is not news (an index with no changed file)
        now = time.monotonic()
        last = self._last.get(stage)
        if last is not None and done < total and now - last < self.every:
            return
        self._last[stage] = now
        out = self.stream or sys.stderr
        print(f"{self.prefix}: {stage} {done}/{total}{f' {unit}' if unit else ''}",
              file=out, flush=True)


Progress = bool | ProgressLines


def bar(progress: Progress) -> bool:
    """Whether ``progress`` asks for a terminal bar."""
    return progress is True


def track(items: Iterable[T], progress: Progress, stage: str, total: int | None = None,
          unit: str = "") -> Iterator[T]:
    """``items``, showing ``stage`` progress as ``progress`` asks (see the module doc)."""
    if isinstance(progress, ProgressLines):
        n = total if total is not None else len(items)  # type: ignore[arg-type]
        progress(stage, 0, n, unit)
        for done, item in enumerate(items, 1):
            yield item
            progress(stage, done, n, unit)
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=stage, unit=unit or "it", total=total, disable=not progress)


def for_stderr(quiet: bool, prefix: str) -> Progress:
    """What a command shows: nothing when ``quiet``, a bar when stderr is a terminal,
    else plain lines headed ``prefix``."""
    if quiet:
        return False
    return True if sys.stderr.isatty() else ProgressLines(prefix)
