"""The distribution: one console script, the three packages, and the firmware profiles in the wheel."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_pins_every_dependency_and_has_one_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"]
    unpinned = [d for d in deps if "==" not in d]
    assert not unpinned, f"unpinned dependencies: {unpinned}"
    assert project["scripts"] == {"packgate": "packgate.station.runtime.cli:main"}
    assert project["requires-python"] == ">=3.11"


FOLDERS = {"device": "packgate/device", "station": "packgate/station", "sync": "packgate/sync"}
DATA_SUFFIXES = (".html", ".js", ".css", ".po", ".json", ".toml", ".service", ".rules", ".txt")


def _source_files(folder: str) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built once for this module, with the build's own output kept for the warning check."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v",
                            "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (out / "build.log").write_text(build.stdout + build.stderr)
    return next(out.glob("packgate-*.whl"))


def test_wheel_holds_exactly_the_source_tree(wheel):
    """Every module and data file under device/, station/ and sync/ is in the wheel, and nothing else is."""
    expected = {FOLDERS[f.split("/", 1)[0]] + "/" + f.split("/", 1)[1]
                for folder in FOLDERS for f in _source_files(folder) if f.endswith((".py", *DATA_SUFFIXES))}
    names = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("packgate/")}
    assert sorted(expected - names) == [], "missing from the wheel"
    assert sorted(names - expected) == [], "in the wheel but not in the source tree"
    assert len([n for n in names if n.endswith(".py")]) > 150
    profiles = sorted(p.name for p in (ROOT / "firmware-profiles").glob("*.toml"))
    data = "packgate-0.1.0.data/data/share/packgate/firmware-profiles/"
    assert [p for p in profiles if data + p not in zipfile.ZipFile(wheel).namelist()] == []


def test_wheel_builds_without_setuptools_warnings(wheel):
    log = (wheel.parent / "build.log").read_text()
    assert "would be ignored" not in log
    assert "SetuptoolsDeprecationWarning" not in log


def test_tooling_is_not_shipped(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if "crash_harness" in n or "pgtemp" in n or "bench" in n]


@pytest.mark.long
def test_the_built_wheel_runs_the_selftest_in_a_fresh_virtualenv(wheel, tmp_path):
    """Installed from the wheel alone (no checkout on the path), ``packgate demo --selftest`` passes. The
    pinned dependencies come from the test environment's site-packages through a .pth line; packgate itself
    only from the wheel."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PACKGATE_PROFILES", "PYTHONPATH")}
    where = subprocess.run([str(venv / "bin" / "python"), "-P", "-c", "import packgate.device; print(packgate.device.__path__[0])"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    run = subprocess.run([str(venv / "bin" / "packgate"), "demo", "--selftest"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def test_profiles_dir_falls_back_to_the_installed_data_folder(tmp_path, monkeypatch):
    from packgate.device import profiles

    monkeypatch.delenv("PACKGATE_PROFILES", raising=False)
    fake_module = tmp_path / "site-packages" / "packgate" / "device" / "profiles.py"
    fake_module.parent.mkdir(parents=True)
    monkeypatch.setattr(profiles, "__file__", str(fake_module))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    assert profiles.default_profiles_dir() == tmp_path / "venv" / "share" / "packgate" / "firmware-profiles"
