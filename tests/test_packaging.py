"""A wheel works from any directory: it carries the suites, the pre-training recipes and the
published figures as package data (evalsuite.resources), and its console script evaluates and
pre-trains from a folder that is not the checkout.

The wheel is built offline from a copy of the files a source distribution holds (so nothing
from the checkout's other folders can help it), installed into a fresh venv that sees this
interpreter's packages (torch, mmengine, ...) through a ``.pth`` line but not this checkout's
``evalsuite``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from evalsuite import __version__
from evalsuite.resources import FOLDERS, data_dir, recipe_names

ROOT = Path(__file__).resolve().parents[1]
#: What ``pip wheel .`` needs (MANIFEST.in lists the same data folders for a source distribution).
SOURCES = ("evalsuite", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md", *FOLDERS.values())


def run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCES:
        source, target = ROOT / name, src / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_data"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", EVALSUITE_CACHE=str(tmp / "cache"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(tmp / "dist"), "."], src, env)
    (wheel,) = (tmp / "dist").glob("evalsuite-*.whl")
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, env)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # The shared packages, as a plain path: this interpreter's own evalsuite (editable here, a
    # finder installed by a .pth import line) stays out of sight.
    (site / "_shared_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
         "--no-index", str(wheel)], tmp, env)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert "evalsuite/_data/tasks/default.py" in names and "evalsuite/_data/published/reference.csv" in names
    assert "evalsuite/datasets/imagenet_lists/simclr_10percent.txt.xz" in names  # package data of its own
    assert not any("__pycache__" in n for n in names)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return venv / "bin", env | {"_cwd": str(elsewhere)}


def cli(installed, *args: str) -> str:
    bin_dir, env = installed
    cwd = Path(env["_cwd"])
    return run([str(bin_dir / "evalsuite"), *args], cwd, {k: v for k, v in env.items() if k != "_cwd"}).stdout


def test_wheel_reads_its_own_package_data(installed):
    bin_dir, env = installed
    where = run([str(bin_dir / "python"), "-c", "import evalsuite.resources as r; print(r.data_dir('tasks'))"],
                Path(env["_cwd"]), {k: v for k, v in env.items() if k != "_cwd"}).stdout.strip()
    assert Path(where).parts[-3:] == ("evalsuite", "_data", "tasks") and str(bin_dir.parent) in where
    assert cli(installed, "--version").strip() == f"evalsuite {__version__}"
    assert cli(installed, "list", "suites").split() == recipe_names("tasks")
    assert cli(installed, "list", "recipes").split() == recipe_names("pretrain")


def test_wheel_evaluates_and_pretrains_from_another_directory(installed):
    """One interpreter start for both (torch's import is most of the time): the installed
    package's own command-line entry point, run from a folder with no recipes in it."""
    bin_dir, env = installed
    cwd = Path(env["_cwd"])
    steps = [["eval", "random", "--arch", "resnet_tiny", "--datasets", "digits", "--tasks", "knn",
              "--results", "rows", "--device", "cpu", "--quiet"],
             ["pretrain", "simsiam_digits_tiny", "--work-dir", "w", "--device", "cpu", "--cfg-options", "epochs=1",
              "batch_size=16", "data.limit=48", "method.dim=32", "method.pred_hidden=8"]]
    code = ("import sys, evalsuite.cli as c; assert '/site-packages/' in c.__file__, c.__file__; "
            f"sys.exit(max(c.main(a) for a in {steps!r}))")
    run([str(bin_dir / "python"), "-c", code], cwd, {k: v for k, v in env.items() if k != "_cwd"})
    (row,) = (cwd / "rows").glob("*.json")
    assert "__knn__digits__" in row.name
    assert (cwd / "w" / "backbone.pth").is_file()


def test_checkout_reads_the_top_level_folders():
    """Running from a checkout (or an editable install) edits take effect without a reinstall."""
    assert data_dir("tasks") == ROOT / "tasks" and data_dir("published") == ROOT / "results" / "published"
