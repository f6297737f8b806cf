"""Run the bad-input table of ``tests/test_bad_input_table.py`` against whatever ``evalsuite`` is on
the path and count the outcomes: one line and exit 2 naming the bad value (the contract), one line
and exit 2 about something else, a traceback, accepted (exit 0: work done on bad input), or still
running after ``--timeout`` seconds (work started on bad input).

    PYTHONPATH=. python bench/bad_input_table.py                 # this checkout
    PYTHONPATH=/path/to/old/checkout python bench/bad_input_table.py   # an older one, to compare

In one process (imports once); each case under a SIGALRM time limit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


class _TimedOut(Exception):
    pass


def _alarm(signum, frame):
    raise _TimedOut


def classify(argv: list[str], expected: str, timeout: int) -> tuple[str, str]:
    from evalsuite.cli import main

    err = io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    except SystemExit as exc:
        code = exc.code
    except _TimedOut:
        return "still running", ""
    except BaseException as exc:  # noqa: BLE001: what escapes main is a traceback for the user
        return "traceback", f"{type(exc).__name__}: {exc}".splitlines()[0][:100]
    finally:
        signal.alarm(0)
    lines = err.getvalue().strip().splitlines()
    if code == 2 and len(lines) == 1 and "Traceback" not in err.getvalue():
        return "one line, exit 2" + ("" if expected in lines[0] else ", other cause"), lines[0][:100]
    if code == 0:
        return "accepted", ""
    return f"exit {code}, {len(lines)} line(s)", (lines[-1] if lines else "")[:100]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=int, default=60)
    args = parser.parse_args()
    import os

    from test_bad_input_table import CASES, argv_for, make_workspace

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALSUITE_CACHE"] = str(Path(tmp) / "cache")
        (Path(tmp) / "w").mkdir()
        w = make_workspace(Path(tmp) / "w")
        counts = Counter()
        for name, argv, expected in CASES:
            outcome, text = classify(argv_for(argv, w), expected.replace("{w}", str(w)), args.timeout)
            counts[outcome] += 1
            print(f"{name:28s} {outcome:31s} {text}", flush=True)
    print(f"{len(CASES)} invocations: " + ", ".join(f"{n} {k}" for k, n in counts.most_common()))


if __name__ == "__main__":
    main()
