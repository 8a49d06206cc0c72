"""Profile loading and validation: errors name the file and the key."""
from pathlib import Path

import pytest

from packgate.device.errors import ProfileError
from packgate.device.profiles import Profile, get_profile, load_profiles

REQUIRED_NAMES = ["mettler-mt-sics", "toledo-8217", "toledo-continuous", "toledo-continuous-checksum", "nci-brecknell",
                  "cas-22", "cas-18", "and-standard", "ohaus", "yaohua-a9", "yaohua-reversed", "yaohua-a12e-wg"]

BASE = '''
name = "{name}"
kind = "scale"
vendor = "Test"
models = ["T1"]
notes = "test"
[serial]
baudrate = 9600
[poll]
mode = "stream"
[framing]
end = "\\r\\n"
[parser]
kind = "line-fields"
pattern = '(?P<weight>[0-9.]+) (?P<unit>g)\\r\\n'
[emulator.encode]
ok = "{{abs}} {{unit}}\\r\\n"
'''


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def test_bundled_profiles_load_and_have_the_required_names():
    profiles = load_profiles()
    assert set(REQUIRED_NAMES) <= set(profiles)
    assert "yaohua-base" not in profiles  # abstract
    for p in profiles.values():
        assert isinstance(p, Profile)
        with pytest.raises(AttributeError):
            p.name = "x"  # frozen


def test_inherits_merges_tables():
    child = get_profile("toledo-continuous-checksum")
    assert child.inherits == "toledo-continuous"
    assert child.framing.trailer == 1 and child.framing.length == 18
    assert child.serial.bytesize == 7 and child.serial.parity == "E"  # from the parent
    assert child.parser["checksum"] is True and child.parser["tare"] is True
    assert get_profile("yaohua-a9").stability.mode == "repeat"  # from the abstract base


def test_minimal_profile_loads(tmp_path):
    write(tmp_path, "mini", BASE.format(name="mini"))
    p = load_profiles(tmp_path)["mini"]
    assert p.codec.decode(b"12.5 g\r\n").weight.as_tuple() == (0, (1, 2, 5), -1)


def test_name_must_match_file(tmp_path):
    write(tmp_path, "mini", BASE.format(name="other"))
    with pytest.raises(ProfileError, match=r"mini\.toml: key 'name'"):
        load_profiles(tmp_path)


def test_circular_inherits_is_refused(tmp_path):
    write(tmp_path, "a", 'name = "a"\ninherits = "b"\n')
    write(tmp_path, "b", 'name = "b"\ninherits = "a"\n')
    with pytest.raises(ProfileError, match=r"key 'inherits': circular"):
        load_profiles(tmp_path)


def test_unknown_parent(tmp_path):
    text = 'inherits = "nope"\n' + BASE.format(name="a")
    write(tmp_path, "a", text)
    with pytest.raises(ProfileError, match=r"a\.toml: key 'inherits': unknown profile 'nope'"):
        load_profiles(tmp_path)


@pytest.mark.parametrize("drop,key", [("vendor = \"Test\"\n", "vendor"), ("notes = \"test\"\n", "notes"),
                                      ("[serial]\nbaudrate = 9600\n", "serial")])
def test_missing_required_key_after_merge(tmp_path, drop, key):
    write(tmp_path, "mini", BASE.format(name="mini").replace(drop, ""))
    with pytest.raises(ProfileError, match=rf"mini\.toml: key '{key}'"):
        load_profiles(tmp_path)


@pytest.mark.parametrize("old,new,key", [
    ("pattern = '(?P<weight>", "pattern = '((?P<weight>", "parser.pattern"),
    ('kind = "line-fields"', 'kind = "no-such-kind"', "parser.kind"),
    ('mode = "stream"', 'mode = "sometimes"', "poll.mode"),
    ('mode = "stream"', 'mode = "poll"', "poll.command"),
    ("baudrate = 9600", "baudrate = 9601", "serial.baudrate"),
    ("baudrate = 9600", 'baudrate = "fast"', "serial.baudrate"),
    ('ok = "{{abs}} {{unit}}\\r\\n"', 'ok = "{{nosuchfield}}"', "emulator.encode.ok"),
    ('ok = "{{abs}} {{unit}}\\r\\n"', 'okay = "x"', "emulator.encode.okay"),
])
def test_bad_values_name_file_and_key(tmp_path, old, new, key):
    text = BASE.format(name="mini")
    old_f = old.replace("{{", "{").replace("}}", "}")
    new_f = new.replace("{{", "{").replace("}}", "}")
    assert old_f in text
    write(tmp_path, "mini", text.replace(old_f, new_f))
    with pytest.raises(ProfileError, match=rf"mini\.toml: key '{key}'"):
        load_profiles(tmp_path)


def test_toml_syntax_error_names_file(tmp_path):
    write(tmp_path, "broken", 'name = "broken"\nkind = [\n')
    with pytest.raises(ProfileError, match=r"broken\.toml"):
        load_profiles(tmp_path)


def test_get_profile_unknown_name():
    with pytest.raises(ProfileError, match="no profile named 'nope'"):
        get_profile("nope")


def test_non_scale_profiles_are_kept_with_common_fields(tmp_path):
    write(tmp_path, "scan", 'name = "scan"\nkind = "scanner"\nvendor = "V"\nnotes = "n"\nmodels = ["M"]\n'
                            '[serial]\nbaudrate = 115200\n')
    p = load_profiles(tmp_path)["scan"]
    assert p.kind == "scanner" and p.serial.baudrate == 115200 and p.codec is None
    assert load_profiles(tmp_path, kind="scale") == {}
