"""Linter over the bundled firmware-profiles/ (run in CI): the rules escpos-printer-db's collate.py enforces."""
import tomllib
from decimal import Decimal

import pytest

from packgate.device.profiles import default_profiles_dir, load_profiles
from packgate.device.scale.parsers.common import EmuState

FILES = sorted(default_profiles_dir().glob("*.toml"))
PROFILES = load_profiles()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_one_profile_per_file_named_like_the_file(path):
    doc = tomllib.loads(path.read_text())
    assert doc["name"] == path.stem
    assert path.stem == path.stem.lower() and " " not in path.stem
    assert doc.get("kind"), "kind is required"
    if not doc.get("abstract"):
        merged = PROFILES.get(path.stem)
        assert merged is not None, "concrete profiles must load"


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_is_documented(name):
    p = PROFILES[name]
    assert p.vendor.strip() and p.notes.strip() and p.models
    assert all(m.strip() for m in p.models)


@pytest.mark.parametrize("name", sorted(n for n, p in PROFILES.items() if p.kind == "scale"))
def test_every_scale_profile_has_a_working_emulator_encoder(name):
    p = PROFILES[name]
    state = EmuState(Decimal("1.5"), p.emulator.unit, p.emulator.decimals, "ok")
    reading = p.codec.decode(p.codec.encode(state))
    assert reading.status.value == "ok", reading
    assert reading.weight == Decimal("1.5")
    if p.poll.mode == "poll":
        cmd = p.poll.command.decode("latin-1").strip()
        assert cmd in p.emulator.commands, "the emulator must answer the profile's own poll command"
