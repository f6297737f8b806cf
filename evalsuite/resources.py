"""The files that ship with evalsuite: suites (``tasks/``), pre-training recipes (``pretrain/``)
and the published reference figures (``results/published/``).

They live at the top of the repository, where a reader finds them. A wheel carries copies of
them as package data under ``evalsuite/_data/`` (``setup.py`` copies them at build time), read
here with ``importlib.resources``, so an installed evalsuite works from any directory. In a
checkout or an editable install there is no ``_data`` and the top-level folders are used as
they are, so an edit to a recipe takes effect without a reinstall.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from evalsuite.errors import EvalsuiteError

#: Package-data name -> its folder in the repository (``setup.py`` reads this table too).
FOLDERS = {"tasks": "tasks", "pretrain": "pretrain", "published": "results/published"}


def data_dir(kind: str) -> Path:
    """The folder holding the shipped files of ``kind`` (a key of ``FOLDERS``)."""
    package = resources.files("evalsuite")
    packaged = package / "_data" / kind
    if packaged.is_dir():
        return Path(str(packaged))  # a wheel installs into a real folder, so this is a path
    return Path(str(package)).parent / FOLDERS[kind]


def recipe_names(kind: str) -> list[str]:
    """Names of the recipes of ``kind`` ('tasks' or 'pretrain'); ``_``-prefixed files are bases
    that other recipes inherit from, not recipes to run."""
    return sorted(p.stem for p in data_dir(kind).glob("*.py") if not p.stem.startswith("_"))


def find_recipe(kind: str, value: str) -> Path:
    """A recipe file: ``value`` itself when it is a file, else the shipped recipe of that name
    (``default``, ``default.py`` or ``tasks/default.py`` from any directory)."""
    path = Path(value).expanduser()
    if path.is_file():
        return path
    if path.parent in (Path("."), Path(FOLDERS[kind])):
        shipped = data_dir(kind) / f"{path.stem}.py"
        if shipped.is_file():
            return shipped
    noun = "suite" if kind == "tasks" else "recipe"
    raise EvalsuiteError(f"{noun} {value!r} does not exist; give a file or one of: {', '.join(recipe_names(kind))}")
