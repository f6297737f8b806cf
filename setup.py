"""Build hook: the wheel carries the top-level recipe folders (``tasks/``, ``pretrain/``) and the
published figures (``results/published/``) as package data under ``evalsuite/_data/``, read by
``evalsuite.resources``; the folders themselves stay at the top of the repository. Everything
else is declared in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: Package-data name -> repository folder; the same table as ``evalsuite.resources.FOLDERS``
#: (not imported from it: building must not import the package and its dependencies).
FOLDERS = {"tasks": "tasks", "pretrain": "pretrain", "published": "results/published"}


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the top-level folders in place
        for name, folder in FOLDERS.items():
            target = Path(self.build_lib) / "evalsuite" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithData})
