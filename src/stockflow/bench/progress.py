"""Progress of a long benchmark on stderr (Rich): one bar a step, with rows a second."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Advance = Callable[[int, int], None]
"""Called with (done, total) as a step goes on."""


class _Rate(ProgressColumn):
    """Rows (or requests) a second so far."""

    def render(self, task: Task) -> Text:
        speed = task.completed / task.elapsed if task.elapsed and task.completed else None
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


class Steps:
    """The bars of one run; each step is a bar that stays once done."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        """A bar for one step; yields the callback that moves it."""
        task = self._progress.add_task(description, total=total)

        def advance(done: int, of: int) -> None:
            self._progress.update(task, completed=done, total=of)

        started = time.perf_counter()
        try:
            yield advance
        finally:
            t = self._progress.tasks[task]
            self._progress.update(task, total=t.total or t.completed or 1)
            self._progress.update(task, completed=t.total)
            self._progress.stop_task(task)
            if not self._progress.console.is_terminal:  # a log file: one line a step
                done = f"{t.completed:,.0f} in " if t.completed > 1 else ""
                self.note(f"{description}: {done}{time.perf_counter() - started:.1f} s")

    def note(self, message: str) -> None:
        """A line above the bars."""
        self._progress.console.print(message, highlight=False, soft_wrap=True)


@contextmanager
def steps(*, quiet: bool = False) -> Iterator[Steps]:
    """Bars on stderr (none with ``quiet``); stdout stays free for the JSON."""
    console = Console(stderr=True, quiet=quiet)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    # On a terminal, live bars; in a log file, one line a step (see ``Steps.step``).
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        yield Steps(progress)
