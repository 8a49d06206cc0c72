"""The distribution: one console script, the three packages, and the firmware profiles in the wheel."""
from __future__ import annotations

import os
import re
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
DATA_SUFFIXES = (".html", ".js", ".css", ".po", ".json", ".toml", ".service", ".rules", ".desktop", ".conf", ".txt")


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


@pytest.fixture(scope="module")
def wheel_venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with packgate installed from the wheel alone (no checkout on the path). The pinned
    dependencies come from the test environment's site-packages through a .pth line; packgate itself only from
    the wheel."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, capture_output=True, timeout=300)
    return venv


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PACKGATE_PROFILES", "PYTHONPATH")}


@pytest.mark.long
def test_the_built_wheel_runs_the_selftest_in_a_fresh_virtualenv(wheel_venv, tmp_path):
    """Installed from the wheel alone, ``packgate demo --selftest`` (the scripted walkthrough on the emulators, about
    25 s) passes every one of its steps."""
    venv, env = wheel_venv, _clean_env()
    where = subprocess.run([str(venv / "bin" / "python"), "-P", "-c", "import packgate.device; print(packgate.device.__path__[0])"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    run = subprocess.run([str(venv / "bin" / "packgate"), "demo", "--selftest"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    match = re.match(r"^selftest: (\d+) passed, 0 failed in [0-9.]+ s$", lines[-1])
    assert match, lines[-1]
    assert int(match.group(1)) >= 50
    assert not [line for line in lines if line.startswith("FAIL")]


def test_the_wheel_carries_the_station_install_files(wheel, wheel_venv, tmp_path):
    """The systemd units, the udev rules and the kiosk autostart are package data, and ``packgate install station``
    from the wheel's own install writes them (its ExecStart naming that install's packgate)."""
    names = set(zipfile.ZipFile(wheel).namelist())
    system = "packgate/station/runtime/system/"
    for name in ("packgate-station.service", "packgate-site.service", "70-packgate.rules", "packgate-kiosk.desktop",
                 "packgate-nfc.conf"):
        assert system + name in names, name
    root = tmp_path / "root"
    (root / "etc/packgate").mkdir(parents=True)
    (root / "etc/packgate/packgate.toml").write_text('[station]\ndata_dir = "/var/lib/packgate"\n')
    packgate = str(wheel_venv / "bin" / "packgate")
    run = subprocess.run([packgate, "install", "station", "--config", "/etc/packgate/packgate.toml", "--root", str(root)],
                         cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    unit = (root / "etc/systemd/system/packgate-station.service").read_text()
    assert f"ExecStart={packgate} run --config /etc/packgate/packgate.toml" in unit
    assert (root / "etc/udev/rules.d/70-packgate.rules").read_text() == (
        ROOT / "station/runtime/system/70-packgate.rules").read_text()


def test_profiles_dir_falls_back_to_the_installed_data_folder(tmp_path, monkeypatch):
    from packgate.device import profiles

    monkeypatch.delenv("PACKGATE_PROFILES", raising=False)
    fake_module = tmp_path / "site-packages" / "packgate" / "device" / "profiles.py"
    fake_module.parent.mkdir(parents=True)
    monkeypatch.setattr(profiles, "__file__", str(fake_module))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    assert profiles.default_profiles_dir() == tmp_path / "venv" / "share" / "packgate" / "firmware-profiles"
