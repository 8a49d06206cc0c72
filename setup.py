"""Packages are found, not listed: every folder under device/, station/ and sync/ is a package of the
``packgate.*`` namespace (data folders such as templates/ and static/ too, so their files are package data)."""
from setuptools import find_namespace_packages, setup

ROOTS = {"packgate.device": "device", "packgate.station": "station", "packgate.sync": "sync"}

packages = [name for name in ROOTS]
for name, folder in ROOTS.items():
    packages += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["__pycache__", "*.__pycache__"])]

setup(packages=packages, package_dir=ROOTS)
