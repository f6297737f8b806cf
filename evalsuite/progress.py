"""Progress lines on stderr for long work (feature extraction, sweeps), at most every 10%."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator


def progress(items: Iterable, total: int, desc: str, quiet: bool = False) -> Iterator:
    start, shown = time.perf_counter(), -1
    for i, item in enumerate(items, 1):
        yield item
        tenth = (10 * i) // max(total, 1)
        if not quiet and (tenth > shown or i == total):
            shown = tenth
            rate = i / max(time.perf_counter() - start, 1e-9)
            print(f"{desc}: {i}/{total} ({100 * i // max(total, 1)}%, {rate:.1f}/s)", file=sys.stderr, flush=True)
