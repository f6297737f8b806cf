"""Reading one image file as RGB, whatever its mode, and naming the file when it cannot be read.

torchvision's ``pil_loader`` calls ``convert('RGB')``, which clips a 16-bit image (PNG ``I;16``,
values 0-65535) to 255 and so turns most of it white; here 16-bit values are scaled to 8 bits.
CMYK, palette, grey (``L``, ``1``) and alpha images (``RGBA``, ``LA``) convert as torchvision
converts them (alpha dropped), so features match a torchvision pipeline on those files.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from evalsuite.errors import EvalsuiteError

#: PIL modes holding more than 8 bits per value, and the largest value of each.
WIDE_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535}
#: What reading a damaged or non-image file raises in PIL (truncated data, unknown format, bad header).
READ_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
#: Image-reading processes (or threads) at most.
MAX_WORKERS = 16


def default_workers() -> int:
    """One image-reading process per core, at most ``MAX_WORKERS``."""
    return min(MAX_WORKERS, os.cpu_count() or 1)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL image -> 8-bit RGB; wide integer modes are scaled, not clipped."""
    if img.mode in WIDE_MODES:
        arr = np.asarray(img, dtype=np.float64)
        top = WIDE_MODES[img.mode] if arr.max(initial=0) > 255 else 255  # an 'I' image may hold 8-bit values
        img = Image.fromarray((arr * (255 / top)).round().clip(0, 255).astype(np.uint8))
    return img if img.mode == "RGB" else img.convert("RGB")


def load_rgb(path: str) -> Image.Image:
    """Decode ``path`` fully (a truncated file fails here, not later) as RGB; one sentence if it cannot."""
    try:
        with Image.open(path) as img:
            img.load()
            return to_rgb(img)
    except READ_ERRORS as exc:
        raise bad_image(path, exc) from None


def bad_image(path: str | Path, exc: BaseException) -> EvalsuiteError:
    return EvalsuiteError(f"image {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); replace or remove it, "
                          "or pass --skip-bad-images to leave such files out (the count lands in the row)")


def unreadable(paths: list[str], workers: int) -> list[str]:
    """The paths among ``paths`` that ``load_rgb`` refuses (decoded in threads: PIL releases the GIL)."""
    def bad(path: str) -> bool:
        try:
            load_rgb(path)
        except EvalsuiteError:
            return True
        return False

    with ThreadPoolExecutor(max(1, workers)) as pool:
        flags = list(pool.map(bad, paths, chunksize=64))
    return [p for p, f in zip(paths, flags) if f]
