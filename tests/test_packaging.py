"""The distribution: one console script, the three packages, and the firmware profiles in the wheel."""
from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_pins_every_dependency_and_has_one_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"]
    unpinned = [d for d in deps if "==" not in d]
    assert not unpinned, f"unpinned dependencies: {unpinned}"
    assert project["scripts"] == {"packgate": "packgate.station.runtime.cli:main"}
    assert project["requires-python"] == ">=3.11"


def test_wheel_carries_packages_templates_and_profiles(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=240)
    wheel = next(tmp_path.glob("packgate-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    profiles = sorted(p.name for p in (ROOT / "firmware-profiles").glob("*.toml"))
    data = "packgate-0.1.0.data/data/share/packgate/firmware-profiles/"
    assert [p for p in profiles if data + p not in names] == []
    for needed in ("packgate/device/parsers/fields.py", "packgate/device/emulators/scale.py",
                   "packgate/station/web/templates/kiosk.html", "packgate/station/web/static/kiosk.js",
                   "packgate/sync/upstream/openapi.json", "packgate/sync/outbox.py"):
        assert needed in names, needed


def test_profiles_dir_falls_back_to_the_installed_data_folder(tmp_path, monkeypatch):
    from packgate.device import profiles

    monkeypatch.delenv("PACKGATE_PROFILES", raising=False)
    fake_module = tmp_path / "site-packages" / "packgate" / "device" / "profiles.py"
    fake_module.parent.mkdir(parents=True)
    monkeypatch.setattr(profiles, "__file__", str(fake_module))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    assert profiles.default_profiles_dir() == tmp_path / "venv" / "share" / "packgate" / "firmware-profiles"
