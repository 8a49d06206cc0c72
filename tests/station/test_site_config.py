"""A station whose upstream is the site hub: its keys, and what ``config check`` says about them."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from packgate.station.errors import ConfigError
from packgate.station.runtime.cli import cli
from packgate.station.runtime.config import validate

TOKEN = "token-of-station-01-abcdef"


def test_a_hub_upstream_needs_the_stations_token():
    with pytest.raises(ConfigError, match="upstream.token: a station whose upstream is a hub needs its token"):
        validate({"upstream.kind": "hub"})
    with pytest.raises(ConfigError, match="upstream.token: every token must be a string of 16"):
        validate({"upstream.kind": "hub", "upstream.token": "short"})
    with pytest.raises(ConfigError, match="upstream.kind: must be one of wms, hub"):
        validate({"upstream.kind": "site"})


def test_config_check_says_the_hub_escalates_and_masks_the_token(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text(f'[upstream]\nurl = "http://127.0.0.1:8770"\nkind = "hub"\ntoken = "{TOKEN}"\n'
                    '[escalation]\nfirst_after_min = 5.0\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(path)], obj={})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert any("escalations are fired by the site hub" in note and "fire nothing" in note for note in report["notes"])
    assert TOKEN not in result.output and report["settings"]["upstream.token"] == "toke…"


def test_a_wms_upstream_keeps_its_own_escalations(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[upstream]\nurl = "http://127.0.0.1:8700"\n', encoding="utf-8")
    report = json.loads(CliRunner().invoke(cli, ["config", "check", str(path)], obj={}).output)
    assert report["notes"] == [] and report["settings"]["upstream.kind"] == "wms"
