"""site.toml: defaults printed with meanings, and check messages that name the key."""
from __future__ import annotations

import json

from click.testing import CliRunner

from packgate.station.runtime.cli import cli
from packgate.sync.hub.config import SCHEMA


def check(tmp_path, text):
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o640)  # it holds tokens in clear: root and the hub's group only (test_hub_signin_security.py)
    return CliRunner().invoke(cli, ["site", "config", "check", str(path)])


def test_defaults_print_every_key_with_its_meaning():
    out = CliRunner().invoke(cli, ["site", "config", "defaults"]).output
    for key, (_t, _d, _c, meaning) in SCHEMA.items():
        assert key.rsplit(".", 1)[-1] in out and meaning in out, key
    assert "first_after_min = 12.0" in out and "[stations]" in out


def test_a_good_file_is_accepted_with_tokens_masked(tmp_path):
    result = check(tmp_path, '[site]\nport = 8701\nupstream_url = "http://wms:8700"\n'
                             '[stations]\nST01 = "a-long-enough-token-123"\n')
    assert result.exit_code == 0, result.output
    assert "warning: escalation.notify is empty" in result.stderr  # no channel: ok, with a warning
    settings = json.loads(result.stdout)["settings"]
    assert settings["site.port"] == 8701 and settings["stations"] == {"ST01": "a-lo…"}


def test_check_messages_name_the_key(tmp_path):
    cases = {
        "[site]\nprot = 1\n": "unknown key 'site.prot' (did you mean 'site.port'?)",
        "[site]\nport = 70000\n": "site.port: must be a TCP port",
        '[site]\nport = "8700"\n': "site.port: must be an integer",
        '[stations]\nST01 = "short"\n': "token of ST01 must be a string of 16",
        '[stations]\nst-1 = "a-long-enough-token-123"\n': "station id 'st-1'",
        '[stations]\nST01 = "a-long-enough-token-123"\nST02 = "a-long-enough-token-123"\n': "share one token",
        "[escalation]\nfirst_after_min = 30\nsecond_after_min = 20\n": "second_after_min: must be later",
        '[escalation]\nnotify = ["nonsense"]\n': "escalation.notify",
        '[site]\ndb = "postgresql://hub@db"\n': "site.db: a PostgreSQL URL must name the database",
        '[site]\ndb = "mysql://hub@db/site"\n': "site.db: must be a SQLite file path or a postgresql:// URL",
        "[site\n": "not valid TOML",
    }
    for text, message in cases.items():
        result = check(tmp_path, text)
        assert result.exit_code == 2 and message in result.output, (text, result.output)
