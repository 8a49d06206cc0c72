"""The scale's division comes from its firmware profile (``[weighing] division``, else the step its frames carry), and
the learned gate's floor and resolution are reckoned on it; ``weighing.scale_division`` overrides it for a scale set
up otherwise. A bad division in a profile is refused naming the file and the key."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from packgate.device.errors import ProfileError
from packgate.device.profiles import get_profile, load_profiles, use_user_dir
from packgate.station.core.models import Packaging, Sku
from packgate.station.core.tolerance import ToleranceConfig
from packgate.station.core.weight_gate import TableGate
from packgate.station.core.weight_learning import Learned, Reference
from packgate.station.runtime.config import validate
from packgate.station.weights import gate_config, scale_resolution

SITE_PROFILE = '''
name = "parcel-terminal"
kind = "scale"
inherits = "keli-xk3118"
vendor = "Test"
models = ["a 15 kg parcel terminal set to 2 g / 5 g"]
notes = "test"
[weighing]
division = "6000:2,15000:5"
'''


def test_the_bundled_profiles_carry_a_division_from_their_frames():
    assert get_profile("keli-xk3118").division == "1"  # kg with 3 decimals
    assert get_profile("ohaus").division == "10"  # kg with 2 decimals
    assert get_profile("nci-brecknell").division == "4.5359237"  # lb with 2 decimals
    assert get_profile("mettler-mt-sics").division == "1"  # g with 2 decimals: a parcel is judged by the gram
    assert all(p.division for p in load_profiles(kind="scale").values())


def test_a_profiles_division_sets_the_gates_resolution_and_the_configuration_can_override_it(tmp_path: Path):
    (tmp_path / "parcel-terminal.toml").write_text(SITE_PROFILE)
    use_user_dir(tmp_path)
    try:
        cfg = validate({"scale.profile": "parcel-terminal", "weighing.gate_floor": "division",
                        "profiles.user_dir": str(tmp_path)})
        resolution = scale_resolution(cfg)
        assert resolution.division_at(Decimal(290)) == 2 and resolution.division_at(Decimal(9000)) == 5
        config = gate_config(cfg, ToleranceConfig(Decimal(5)))
        assert get_profile("parcel-terminal").summary()["division_g"] == "6000:2,15000:5"
    finally:
        use_user_dir(None)
    assert scale_resolution(validate({"scale.profile": "ohaus"})).division_at(Decimal(290)) == 10
    assert scale_resolution(validate({"scale.profile": "ohaus", "weighing.scale_division": "2"})).division_at(
        Decimal(290)) == 2
    # no history, the division floor: five divisions of the scale at that weight, not a constant
    box, case = Packaging("BOX-S", "Small box", Decimal(120)), Sku("SKU-1", "01", "Cable", Decimal(40))
    judged = TableGate(Learned(), Reference({}, {}), config).check([(case, 1)], box, Decimal("168"), True)
    assert judged.verdict.data["allowed_g"] == "10.0" and judged.passed  # 5 × 2 g at 160 g (5 % would be 8 g)
    coarse = gate_config(validate({"scale.profile": "ohaus", "weighing.gate_floor": "division"}),
                         ToleranceConfig(Decimal(5)))
    judged = TableGate(Learned(), Reference({}, {}), coarse).check([(case, 1)], box, Decimal("208"), True)
    assert judged.verdict.data["allowed_g"] == "50.0" and judged.passed  # 5 × 10 g


@pytest.mark.parametrize("bad", ['"0"', '"2,6000:5"', '"6000:5,15000:2"', '"two"', "2"])
def test_a_bad_division_in_a_profile_names_the_file_and_the_key(tmp_path: Path, bad: str):
    (tmp_path / "parcel-terminal.toml").write_text(SITE_PROFILE.replace('"6000:2,15000:5"', bad))
    with pytest.raises(ProfileError, match=r"parcel-terminal.toml: key 'weighing.division'"):
        load_profiles(user=tmp_path)
