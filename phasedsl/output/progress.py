"""Progress of a run on the terminal: a rich bar over the sweep points (stderr, only on a
terminal outside CI)."""

from __future__ import annotations

import os
import sys

__all__ = ["SweepProgress", "progress_enabled"]


def progress_enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


class SweepProgress:
    """A context manager; ``update(count, total, value)`` is the pipeline's ``progress``
    callback."""

    def __init__(self, sweep_name: str | None):
        from rich.console import Console
        from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.sweep_name = sweep_name
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                            TextColumn("eta"), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task("sampling", total=None)

    def update(self, count: int, total: int, value: float) -> None:
        self.bar.update(self.task, total=total, completed=count,
                        description=f"{self.sweep_name or 'point'} = {value:.4g}")

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()
        return False
