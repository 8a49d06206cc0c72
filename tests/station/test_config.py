"""packgate.toml: defaults valid, every bad value named by its key, unknown keys get a suggestion."""
from __future__ import annotations

import tomllib

import pytest

from packgate.station.errors import ConfigError
from packgate.station.runtime.config import SCHEMA, load, render_defaults, validate


def test_the_defaults_are_valid_and_complete():
    cfg = validate({})
    assert set(cfg.values) == set(SCHEMA)
    assert cfg["weighing.tolerance_pct"] == 5.0 and cfg["escalation.first_after_min"] == 12.0
    assert cfg["web.api_tokens"] == [] and cfg["web.host"] == "127.0.0.1"
    assert load(None).values == cfg.values


# key, bad value, words the message must contain
BAD = [
    ("station.id", "ST 01", "letters, digits"),
    ("station.id", "", "letters, digits"),
    ("station.id", "X" * 17, "1-16"),
    ("station.id", 7, "a string"),
    ("station.language", "fr", "one of en, zh"),
    ("web.port", 70000, "0-65535"),
    ("web.port", "8080", "an integer"),
    ("web.port", True, "an integer"),
    ("web.port", 80.5, "an integer"),
    ("web.api_tokens", ["short"], "16 or more"),
    ("web.api_tokens", "one-token-as-a-string-0001", "a list"),
    ("web.api_tokens", ["has spaces in it, not a token"], "without spaces"),
    ("upstream.url", "ftp://wms", "http://"),
    ("upstream.batch_size", 0, "greater than 0"),
    ("upstream.deadline_s", -1, "greater than 0"),
    ("upstream.backoff_base_s", "fast", "a number"),
    ("upstream.refresh_s", 0, "greater than 0"),
    ("scale.enabled", "yes", "true or false"),
    ("scanner.suffix", "ETX", "one of CR, LF, CRLF, TAB, none"),
    ("weighing.tolerance_pct", 0, "between 0 and 100"),
    ("weighing.tolerance_pct", 100, "between 0 and 100"),
    ("weighing.tolerance_pct", "5%", "a number"),
    ("weighing.category_tolerance_pct", {"electronics": "ten"}, "'electronics' must be a number"),
    ("weighing.category_tolerance_pct", {"grocery": 150}, "'grocery' must be a percentage"),
    ("weighing.category_tolerance_pct", 5, "a table"),
    ("weighing.floor_table", "metric", "one of ounce, anchor, none"),
    ("lots.policy", "LIFO", "one of FIFO, FEFO, NONE"),
    ("lots.expiry_warning_days", 0, "greater than 0"),
    ("session.idle_sign_out_s", -5, "greater than 0"),
    ("escalation.first_after_min", 0, "greater than 0"),
    ("escalation.notify", ["https://hooks.example/x", "not a url"], "Apprise URL"),
    ("escalation.notify", "json://127.0.0.1/x", "a list"),
    ("escalation.notify", ["json://127.0.0.1/x", "https://hooks.example/x"], "entry 2 (https://…) is not a URL Apprise"),
    ("log.level", "verbose", "one of DEBUG, INFO, WARNING, ERROR"),
]


@pytest.mark.parametrize("key, value, words", BAD, ids=[f"{k}={v!r}"[:40] for k, v, _ in BAD])
def test_every_bad_value_is_named_by_its_key(key, value, words):
    with pytest.raises(ConfigError) as err:
        validate({key: value})
    message = str(err.value)
    assert message.startswith(f"{key}: "), message
    assert words in message, message


def test_notification_urls_apprise_understands_are_accepted():
    urls = ["wecombot://0123456789abcdef-0123-4567-89ab-cdef01234567", "dingtalk://SECabc123@" + "a1" * 32 + "/",
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#packing-floor",
            "mailtos://alerts:app-password@smtp.example.com?to=shift-lead@example.com", "json://127.0.0.1:9000/hook"]
    assert validate({"escalation.notify": urls})["escalation.notify"] == urls


def test_a_bad_notification_url_is_not_echoed_with_its_token():
    with pytest.raises(ConfigError) as err:
        validate({"escalation.notify": ["wecom://secret-key-1234"]})
    assert "secret-key-1234" not in str(err.value) and "entry 1 (wecom://…)" in str(err.value)


def test_a_token_is_never_echoed_whole_in_an_error():
    with pytest.raises(ConfigError) as err:
        validate({"web.api_tokens": ["secret token with a space 123456"]})
    assert "secret token with a space 123456" not in str(err.value)


@pytest.mark.parametrize("first, second", [(12, 12), (12, 5)])
def test_the_second_escalation_must_come_after_the_first(first, second):
    with pytest.raises(ConfigError, match="^escalation.second_after_min: must be later"):
        validate({"escalation.first_after_min": first, "escalation.second_after_min": second})


def test_backoff_cap_below_base_is_refused():
    with pytest.raises(ConfigError, match="^upstream.backoff_cap_s: "):
        validate({"upstream.backoff_base_s": 10.0, "upstream.backoff_cap_s": 5.0})


def test_integers_are_accepted_for_numbers():
    cfg = validate({"weighing.tolerance_pct": 3, "upstream.deadline_s": 4})
    assert cfg["weighing.tolerance_pct"] == 3.0 and isinstance(cfg["weighing.tolerance_pct"], float)


@pytest.mark.parametrize("key, suggestion", [
    ("scale.prot", "scale.port"), ("web.porta", "web.port"), ("station.idd", "station.id"),
    ("weighing.tolerance", "weighing.tolerance_pct"), ("tolerance_pct", "weighing.tolerance_pct"),
    ("escalation.first_after", "escalation.first_after_min"), ("upstream.URL", "upstream.url"),
    ("web.api_token", "web.api_tokens"), ("station.idle_sign_out_s", "session.idle_sign_out_s"),
])
def test_an_unknown_key_suggests_the_one_meant(key, suggestion):
    with pytest.raises(ConfigError) as err:
        validate({key: 1})
    assert str(err.value) == f"unknown key {key!r} (did you mean {suggestion!r}?)"


def test_an_unknown_key_without_a_near_match_says_so_plainly():
    with pytest.raises(ConfigError) as err:
        validate({"fax.dial_tone": "x", "fax.number": "/dev/ttyS0"})
    assert err.value.problems == ["unknown key 'fax.dial_tone'", "unknown key 'fax.number'"]
    assert str(err.value) == "unknown key 'fax.dial_tone'\nunknown key 'fax.number'"


def test_every_problem_is_reported_in_one_run(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[scale]\nbaud = 9600\n[web]\nport = "x"\n[weighing]\ntolerance_pct = 150\n'
                    '[escalation]\nfirst_after_min = 20\nsecond_after_min = 10\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(path)
    keys = [p.split(": ", 2)[1].split(" ")[0] for p in err.value.problems]
    assert keys == ["unknown", "web.port", "weighing.tolerance_pct", "escalation.second_after_min"], err.value.problems
    assert all(p.startswith(f"{path}: ") for p in err.value.problems)


@pytest.mark.parametrize("key, profile", [("scale.baud", "scale.profile"), ("scale.parity", "scale.profile"),
                                          ("printer.dpi", "printer.profile")])
def test_a_key_that_belongs_to_a_firmware_profile_says_where_it_goes(key, profile):
    with pytest.raises(ConfigError) as err:
        validate({key: 1})
    (problem,) = err.value.problems
    assert problem.startswith(f"unknown key {key!r}: ") and "firmware profile" in problem and profile in problem
    assert "firmware-profiles/" in problem


def test_the_printed_settings_mask_every_secret():
    from packgate.station.runtime.config import shown

    cfg = validate({"upstream.url": "https://wms-user:wms-password@wms.example.com/api",
                    "upstream.token": "station-token-0123456789",
                    "web.api_tokens": ["handheld-token-0123456789"],
                    "escalation.notify": ["mailtos://alerts:app-password@smtp.example.com?to=lead@example.com",
                                          "wecombot://0123456789abcdef-0123-4567-89ab-cdef01234567",
                                          "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#packing-floor",
                                          "json://127.0.0.1:9000/hook?token=hook-secret-42"]})
    printed = str(shown(cfg))
    for secret in ("wms-password", "station-token-0123456789", "handheld-token-0123456789", "app-password",
                   "0123456789abcdef-0123-4567-89ab-cdef01234567", "TIiajkdnlazkcOXrIdevi7FQ", "hook-secret-42"):
        assert secret not in printed, secret
    notify = shown(cfg)["escalation.notify"]
    assert notify[0] == "mailtos://alerts:***@smtp.example.com?to=lead@example.com"  # who and where stay readable
    assert notify[1] == "wecombot://0123…" and notify[3] == "json://127.0.0.1:9000/hook?token=***"
    assert shown(cfg)["upstream.url"] == "https://wms-user:***@wms.example.com/api"


def test_a_bad_notification_url_prints_no_apprise_noise(capfd):
    from packgate.station.runtime.logs import setup_logging

    setup_logging("INFO")
    with pytest.raises(ConfigError):
        validate({"escalation.notify": ["wecom://abc"]})
    validate({"escalation.notify": ["mailtos://alerts:pw@smtp.example.com?to=not-an-address"]})
    assert "apprise" not in capfd.readouterr().err


def test_errors_from_a_file_name_the_file_and_the_key(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[weighing]\ntolerance_pct = 250\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: weighing.tolerance_pct: must be a percentage")
    path.write_text('[web]\nport = \n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")


def test_a_file_sets_values_and_tables(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[station]\nid = "ST07"\ndata_dir = "var/st7"\n'
                    '[weighing.category_tolerance_pct]\nelectronics = 2\n'
                    '[escalation]\nnotify = ["json://127.0.0.1:9/hook"]\n', encoding="utf-8")
    cfg = load(path)
    assert cfg["station.id"] == "ST07" and cfg["weighing.category_tolerance_pct"] == {"electronics": 2}
    assert cfg.data_dir == tmp_path / "var" / "st7"  # relative to the file, not the working directory
    assert cfg.section("escalation")["notify"] == ["json://127.0.0.1:9/hook"]


def test_the_rendered_defaults_load_back_identically(tmp_path):
    text = render_defaults()
    assert validate(_flat(tomllib.loads(text))).values == validate({}).values
    for key, (_t, _d, _c, help_) in SCHEMA.items():
        assert f"# {help_}" in text and f"{key.rsplit('.', 1)[1]} = " in text


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and f"{prefix}{key}" not in SCHEMA:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
