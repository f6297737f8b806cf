#!/usr/bin/env python
"""Install detectron2 into the running interpreter's environment (``make test``/``make demo`` call it).

detectron2 is not published on the package registry. Two sources, tried in this order by
``--source auto``:

1. ``official``: the upstream repository, built with its C++/CUDA ops. Used only when a C
   compiler is on PATH and the repository's host answers within a few seconds.
2. ``registry``: the registry's source package ``pb1-detectron2==0.6`` (a copy of detectron2
   v0.6, import name ``detectron2``), rebuilt here as a pure-Python wheel:
   - its ``setup.py`` is replaced by one that builds no extensions (the sdist ships no C++
     sources anyway) and installs the model-zoo configs as package data;
   - a placeholder ``detectron2/_C.py`` is added, because ``detectron2.layers`` imports ``_C``
     at load time; touching any op in it raises a plain error (deformable convolution, rotated
     boxes and the fast COCO evaluator need the C++ build);
   - ``Image.LINEAR`` -> ``Image.BILINEAR`` (removed from current Pillow), ``np.str``/``np.bool``
     /``np.int``/``np.float`` -> builtins (removed in numpy 2), and ``pkg_resources`` (gone
     from setuptools >= 81) -> a path next to the module, so no setuptools pin is needed;
   - its pins of ``black``, ``tensorboard``, ``hydra-core``, ``future`` and ``pydot`` are
     dropped: only the optional LazyConfig formatter, event writer and caffe2 export use them,
     and ``black==21.4b2`` would clash with the project's own tool chain.

Faster R-CNN (C4 and FPN) needs none of the C++ ops: detectron2 calls torchvision's RoIAlign
and NMS.

Usage:
    python tools/install_detectron2.py                       # install into this environment
    python tools/install_detectron2.py --build-only --wheel-dir DIR [--target-python 3.12]
        # build the pure-Python wheel (and download the dependencies' wheels for another
        # Python) into DIR, to carry to a machine without network access; install there with
        # pip install --no-index --find-links DIR pb1-detectron2
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "pb1-detectron2==0.6"
OFFICIAL = "git+https://github.com/facebookresearch/detectron2.git"
OFFICIAL_HOST = "github.com"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WHEEL_DIR = ROOT / "build" / "detectron2-wheels"

#: Runtime dependencies of the pure-Python build (detectron2 v0.6's list minus the ones above).
REQUIRES = [
    "Pillow>=7.1", "matplotlib", "pycocotools>=2.0.2", "termcolor>=1.1", "yacs>=0.1.8", "tabulate",
    "cloudpickle", "tqdm>4.29.0", "fvcore>=0.1.5,<0.1.6", "iopath>=0.1.7,<0.1.10", "omegaconf>=2.1", "pyyaml",
]

SETUP_PY = '''\
# Written by evalsuite's tools/install_detectron2.py: pure Python, no extensions.
from setuptools import find_packages, setup

setup(
    name="pb1-detectron2",
    version="0.6",
    description="detectron2 v0.6 (pb1-detectron2 source), pure-Python build without C++ ops",
    packages=find_packages(include=["detectron2", "detectron2.*"]),
    package_data={{"detectron2.model_zoo": ["configs/**/*.yaml", "configs/**/*.py", "configs/*.yaml"]}},
    include_package_data=False,
    python_requires=">=3.8",
    install_requires={requires!r},
)
'''

PLACEHOLDER_C = '''\
"""Placeholder for detectron2's C++/CUDA ops, which this pure-Python build does not have.

``detectron2.layers`` imports this module at load time; Faster R-CNN never calls into it.
"""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"detectron2 was installed without its C++ ops (pure-Python build), so _C.{name} is unavailable: "
        "deformable convolution, rotated boxes and the fast COCO evaluator need the official build"
    )
'''

_NUMPY_ALIASES = re.compile(r"\bnp\.(str|bool|int|float|object)\b(?![\w.(])")
_NUMPY_ALIAS_CALLS = re.compile(r"\bnp\.(str|bool|int|float|object)\b(?=[),\]])")


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def installed() -> bool:
    return importlib.util.find_spec("detectron2") is not None


def official_reachable(timeout: float = 3.0) -> bool:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        return False
    try:
        socket.create_connection((OFFICIAL_HOST, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def fix_numpy_aliases(text: str) -> str:
    """``np.str`` and friends were removed in numpy 2; the builtins mean the same."""
    return _NUMPY_ALIAS_CALLS.sub(r"\1", _NUMPY_ALIASES.sub(r"\1", text))


def patch_source(src: Path) -> None:
    """Turn the extracted ``pb1-detectron2`` sdist at ``src`` into a pure-Python project."""
    pkg = src / "detectron2"
    (src / "setup.py").write_text(SETUP_PY.format(requires=REQUIRES))
    for stale in ("pyproject.toml", "setup.cfg"):
        (src / stale).unlink(missing_ok=True)
    shutil.rmtree(src / "pb1_detectron2.egg-info", ignore_errors=True)
    (pkg / "_C.py").write_text(PLACEHOLDER_C)
    configs = pkg / "model_zoo" / "configs"
    if not configs.is_dir() and (src / "configs").is_dir():  # upstream layout: configs/ at the top
        shutil.copytree(src / "configs", configs)
    assert any(configs.rglob("*.yaml")), "model-zoo configs are missing from the source package"
    for path in pkg.rglob("*.py"):
        text = path.read_text()
        new = fix_numpy_aliases(text.replace("Image.LINEAR", "Image.BILINEAR"))
        if path.name == "model_zoo.py":
            new = new.replace("import pkg_resources\n", "")
            new = re.sub(r"pkg_resources\.resource_filename\(\s*\"detectron2\.model_zoo\",\s*",
                         "os.path.join(os.path.dirname(os.path.abspath(__file__)), ", new)
            assert "pkg_resources" not in new, "model_zoo.py changed; update the pkg_resources patch"
        if new != text:
            path.write_text(new)


#: pip from 25 on refuses to prepare this sdist at all, because its metadata names a direct-URL
#: dependency (panopticapi) for an extra we never install; this release still downloads it.
FALLBACK_PIP = "pip==24.0"


def download_sdist(dest: Path) -> None:
    """Download the source package into ``dest`` with the environment's pip, or else with
    ``FALLBACK_PIP`` installed into a temporary folder (the environment's own pip is left alone)."""
    # --no-build-isolation: its own setup.py imports torch just to prepare metadata.
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
           "--no-build-isolation", "-d", str(dest), PACKAGE]
    if subprocess.run(cmd).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as pip_dir:
        print(f"retrying the download with {FALLBACK_PIP}", file=sys.stderr)
        run([sys.executable, "-m", "pip", "install", "-q", "--target", pip_dir, FALLBACK_PIP])
        subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": pip_dir})


def build_wheel(wheel_dir: Path) -> Path:
    """Fetch the registry's source package, patch it and build the pure-Python wheel into ``wheel_dir``."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        download_sdist(tmp)
        sdist = next(tmp.glob("pb1*detectron2-0.6.tar.gz"))
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data") if sys.version_info >= (3, 12) else tar.extractall(tmp)
        src = next(p for p in tmp.iterdir() if p.is_dir())
        patch_source(src)
        for old in wheel_dir.glob("pb1_detectron2-*.whl"):
            old.unlink()
        run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheel_dir), str(src)])
    return next(wheel_dir.glob("pb1_detectron2-*.whl"))


def download_deps(wheel_dir: Path, python: str) -> None:
    """Wheels of every runtime dependency for another Python (``manylinux`` x86_64), for offline installs."""
    pure = ["fvcore>=0.1.5,<0.1.6", "iopath>=0.1.7,<0.1.10", "yacs>=0.1.8", "antlr4-python3-runtime==4.9.*"]
    # fvcore/antlr4 are source-only: build them here (pure Python, any interpreter).
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheel_dir), *pure])
    binary = [r for r in REQUIRES if not r.startswith(("fvcore", "iopath", "yacs"))]
    binary += ["portalocker", "typing_extensions", "numpy", "pyyaml"]
    run([sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "--python-version", python,
         "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform",
         "manylinux_2_28_x86_64", "-d", str(wheel_dir), *binary])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", choices=("auto", "official", "registry"), default="auto")
    parser.add_argument("--wheel-dir", type=Path, default=DEFAULT_WHEEL_DIR)
    parser.add_argument("--build-only", action="store_true", help="build the wheel, do not install")
    parser.add_argument("--target-python", help="with --build-only: also download dependency wheels for this Python (e.g. 3.12)")
    parser.add_argument("--force", action="store_true", help="reinstall even when detectron2 is importable")
    args = parser.parse_args(argv)

    if args.build_only:
        wheel = build_wheel(args.wheel_dir)
        if args.target_python:
            download_deps(args.wheel_dir, args.target_python)
        print(f"built {wheel}")
        return 0
    if installed() and not args.force:
        print("detectron2 is already installed")
        return 0
    source = args.source
    if source == "auto":
        source = "official" if official_reachable() else "registry"
    if source == "official":
        run([sys.executable, "-m", "pip", "install", "--no-build-isolation", OFFICIAL])
        return 0
    wheel = build_wheel(args.wheel_dir)
    run([sys.executable, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)])
    run([sys.executable, "-m", "pip", "install", "-q", *REQUIRES])
    return 0


if __name__ == "__main__":
    sys.exit(main())
