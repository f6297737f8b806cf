"""Progress for long steps (decoding, feature extraction, sweeps, low-shot draws, pre-training
epochs, detection iterations): tqdm's bar with rate and ETA, redrawn in place on a terminal; in a
log file or a pipe, one line per 10% (tqdm's own redraws would fill a log with carriage returns).
Progress goes to stderr, so stdout keeps only results."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Counts ``total`` units of work (``update(n)``); ``close()`` ends the bar or the lines."""

    def __init__(self, total: int, desc: str, unit: str = "it", quiet: bool = False, file: TextIO | None = None) -> None:
        self.total, self.desc, self.unit, self.quiet = max(int(total), 0), desc, unit, quiet
        self.file = file or sys.stderr
        self.n, self.tenths, self.start = 0, 0, time.perf_counter()
        interactive = not quiet and getattr(self.file, "isatty", lambda: False)()
        self.bar = tqdm(total=self.total, desc=desc, unit=unit, file=self.file, dynamic_ncols=True,
                        leave=True) if interactive else None

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
        elif not self.quiet:
            tenths = (10 * self.n) // max(self.total, 1)
            if tenths > self.tenths or self.n == self.total:
                self.tenths = tenths
                self.file.write(self.line() + "\n")
                self.file.flush()

    def line(self) -> str:
        """One line of the current state: done/total, percent, elapsed<ETA and rate (no bar)."""
        return tqdm.format_meter(self.n, self.total, time.perf_counter() - self.start, ncols=0,
                                 prefix=self.desc, unit=self.unit)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(items: Iterable, total: int, desc: str, quiet: bool = False, unit: str = "it") -> Iterator:
    """Yield ``items`` (``total`` of them), counting each one."""
    with Progress(total, desc, unit, quiet) as bar:
        for item in items:
            yield item
            bar.update()
