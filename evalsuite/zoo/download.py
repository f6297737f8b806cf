"""Fetch a zoo file into the cache root: resumable, with progress, and hash-checked before use.

The bytes go to ``<file>.part``; a cut transfer leaves it, and the next ``--download`` asks for the
rest with an HTTP ``Range`` request (a server that ignores it sends the whole file, which
replaces the part). Only a complete file whose hash matches the one its project publishes is
moved to its final name; a mismatch deletes it. Where no hash is published, the file's sha256 is
printed and kept beside it (``<file>.sha256``), checked on every later use, and lands in every
result row, so the entry can be pinned later. ``file://`` URLs are read the same way (offline
mirrors and the tests).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from evalsuite.errors import EvalsuiteError
from evalsuite.progress import Progress
from evalsuite.zoo.catalog import PIN_SUFFIX, local_path

CHUNK = 1 << 20
SCHEMES = ("https", "http", "file")
TIMEOUT_S = 60


def _open_file(url: str, offset: int):
    path = Path(url2pathname(urlparse(url).path))
    size = path.stat().st_size
    stream = open(path, "rb")
    start = offset if offset <= size else 0
    stream.seek(start)
    return stream, start, size


def _open_http(url: str, offset: int):
    """(stream, byte the stream starts at, total size or None)."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing after the part: it is already whole
            return None, offset, offset
        raise
    if response.status == 206:
        match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == offset:
            return response, offset, None if match.group(2) == "*" else int(match.group(2))
        response.close()
        return _open_http_whole(url)
    length = response.headers.get("Content-Length")
    return response, 0, int(length) if length else None


def _open_http_whole(url: str):
    response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    length = response.headers.get("Content-Length")
    return response, 0, int(length) if length else None


def fetch_part(url: str, part: Path, label: str, quiet: bool = False) -> None:
    """Bring ``part`` to the whole of ``url``'s bytes, resuming what is already there."""
    scheme = urlparse(url).scheme
    if scheme not in SCHEMES:
        raise EvalsuiteError(f"{label}: URL scheme {scheme!r} is not supported; use one of: {', '.join(SCHEMES)}")
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    total = None
    try:
        stream, start, total = (_open_file if scheme == "file" else _open_http)(url, offset)
        with open(part, "ab" if start else "wb") as out, Progress(total or 0, f"downloading {label}", "B", quiet) as bar:
            bar.update(start)
            while stream is not None and (block := stream.read(CHUNK)):
                out.write(block)
                bar.update(len(block))
        if stream is not None:
            stream.close()
    except (OSError, http.client.HTTPException) as exc:
        got = part.stat().st_size if part.is_file() else 0
        of = f" of {total:,}" if total else ""
        raise EvalsuiteError(f"downloading {label} from {url} stopped at {got:,}{of} bytes ({type(exc).__name__}: "
                             f"{str(exc)[:100]}); the part is kept in {part}: run the same command to resume") from None
    got = part.stat().st_size
    if total is not None and got != total:
        raise EvalsuiteError(f"downloading {label} from {url} stopped at {got:,} of {total:,} bytes (the connection "
                             f"closed early); the part is kept in {part}: run the same command to resume")


def digests(path: Path) -> dict[str, str]:
    """sha256 and md5 of a file, read once."""
    hashes = {"sha256": hashlib.sha256(), "md5": hashlib.md5()}
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            for h in hashes.values():
                h.update(block)
    return {name: h.hexdigest() for name, h in hashes.items()}


def check_published(entry, path: Path, got: dict[str, str], fresh: bool) -> None:
    """Refuse a file whose hash is not the one its project publishes (deleted when just fetched)."""
    want = entry.hash
    if want is None or got[want.algorithm].startswith(want.prefix):
        return
    what = "the downloaded file" if fresh else f"the cached file {str(path)!r}"
    then = ("it was deleted and nothing was evaluated" if fresh else
            "nothing was evaluated; delete it and pass --download to fetch it again")
    if fresh:
        path.unlink()
    raise EvalsuiteError(f"zoo:{entry.name}: {what} has {want.algorithm} {got[want.algorithm]}, but the published "
                         f"{want.algorithm} ({want.source}) starts {want.prefix}; it is corrupt or not the published file, so {then}")


def check_pin(entry, path: Path, sha256: str) -> None:
    """A file with no published hash must still be the one first downloaded."""
    pin = path.with_name(path.name + PIN_SUFFIX)
    if not pin.is_file():
        return
    pinned = pin.read_text().split()[0]
    if pinned != sha256:
        raise EvalsuiteError(f"zoo:{entry.name}: the cached file {str(path)!r} has sha256 {sha256}, not the {pinned} it "
                             f"had when it was downloaded; nothing was evaluated; delete it and pass --download to fetch it again")


def ensure(entry, download: bool, cache_dir: str | None = None, quiet: bool = False) -> tuple[Path, str]:
    """The entry's verified local file and its sha256; fetched first when absent and ``download``."""
    path = local_path(entry, cache_dir)
    if not path.is_file():
        if not download:
            raise EvalsuiteError(f"zoo:{entry.name} ({entry.file}) is not in {path.parent}; pass --download to fetch it "
                                 f"from {entry.url}, or put the file there")
        part = path.with_name(path.name + ".part")
        fetch_part(entry.url, part, f"zoo:{entry.name}", quiet)
        got = digests(part)
        check_published(entry, part, got, fresh=True)
        if entry.hash is None:
            path.with_name(path.name + PIN_SUFFIX).write_text(f"{got['sha256']}  {entry.file}\n")
            print(f"zoo:{entry.name}: no hash is published for {entry.file}; its sha256 is {got['sha256']} (recorded "
                  "in every result row and checked on every later use)", file=sys.stderr)
        os.replace(part, path)
        return path, got["sha256"]
    got = digests(path)
    check_published(entry, path, got, fresh=False)
    if entry.hash is None:
        check_pin(entry, path, got["sha256"])
    return path, got["sha256"]
