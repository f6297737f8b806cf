"""Atomic file writes: a temp file in the target's folder, renamed over the target on success
and removed on failure, so no reader ever sees half a file and a failed write leaves nothing.
Every file evalsuite writes (result rows, reports, caches, checkpoints) goes through here."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


#: Who writes a temp file (``host-pid``), in its name, so a later run can tell one left by a killed
#: process (reclaimed) from one another live process is writing (left alone).
_OWNER = f"{socket.gethostname().replace('.', '_')}-{os.getpid()}"
_TEMP = re.compile(r"^\..+\.(?P<host>[^.]+)-(?P<pid>\d+)\.[^.]+\.tmp$")
#: A temp file whose writer cannot be identified (another host, an older name) is stale after this.
STALE_S = 24 * 3600


def _umask() -> int:
    """The process's umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path`` to write to; it replaces ``path`` when the block ends."""
    path = output_file(path)
    fd, tmp = _temp_in(path.parent, f".{path.name}.{_OWNER}.", f"the folder of {path.name}")
    # mkstemp makes the file 0600; give it the mode open() would, so lab-mates on a shared
    # cluster read results, reports and checkpoints as their umask allows.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_file(path: str | Path, what: str = "output file", example: str = "out.txt") -> Path:
    """``path`` as a file to write: a folder standing there is one sentence (the rename at the end
    of a write would fail on it), said before any work when a command checks its ``-o`` with this."""
    from evalsuite.errors import EvalsuiteError

    path = Path(path)
    if path.is_dir():
        raise EvalsuiteError(f"{what} {str(path)!r} is an existing folder, not a file; give a file name, "
                             f"e.g. {str(path / example)!r}")
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def reclaim_temp(folder: str | Path) -> int:
    """Remove the temp files a killed writer left in ``folder``; return how many.

    A temp file of this host whose process is gone is removed at once; one of another host (a
    cache on a shared file system) or without an owner only when older than ``STALE_S``.
    """
    folder, removed = Path(folder), 0
    if not folder.is_dir():
        return 0
    host = _OWNER.rsplit("-", 1)[0]
    for tmp in folder.glob(".*.tmp"):
        m = _TEMP.match(tmp.name)
        if m and m["host"] == host:
            stale = not process_alive(int(m["pid"]))
        else:
            with contextlib.suppress(OSError):
                stale = time.time() - tmp.stat().st_mtime > STALE_S
        if stale:
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed += 1
    return removed


def writable_dir(path: str | Path, what: str) -> Path:
    """Create folder ``path`` and prove it takes a file, before any work; else one sentence.

    The probe writes and removes a temp file (``os.access`` would say yes to root on a
    read-only mount), so what fails here is what would fail at the end of a long run.
    """
    path = Path(path)
    fd, probe = _temp_in(path, f".write-test.{_OWNER}.", what)
    os.close(fd)
    os.unlink(probe)
    return path


def _temp_in(folder: Path, prefix: str, what: str) -> tuple[int, str]:
    """``mkstemp`` in ``folder`` (created first); a folder that cannot take it is one sentence."""
    from evalsuite.errors import EvalsuiteError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    except OSError as exc:
        why = {FileExistsError: "a file is there, not a folder",
               NotADirectoryError: "a file stands where one of its parent folders should be"}.get(type(exc))
        raise EvalsuiteError(f"{what} {str(folder)!r} cannot be written ({why or exc.strerror or exc}); "
                             "give a folder you can write to") from None
