"""Packages are found, not listed: every folder under device/, station/ and sync/ is a package of the
``packgate.*`` namespace (data folders such as templates/ and static/ too, so their files are package data).

Each build starts from an empty ``build/lib``: setuptools copies into it and never deletes, so a module removed from
the tree would otherwise still ship in the next wheel built from the same checkout."""
import shutil
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

ROOTS = {"packgate.device": "device", "packgate.station": "station", "packgate.sync": "sync"}

packages = [name for name in ROOTS]
for name, folder in ROOTS.items():
    packages += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["__pycache__", "*.__pycache__"])]


class FreshBuildPy(build_py):
    def run(self) -> None:
        shutil.rmtree(Path(self.build_lib) / "packgate", ignore_errors=True)
        super().run()


setup(packages=packages, package_dir=ROOTS, cmdclass={"build_py": FreshBuildPy})
