"""The dashboard's sign-in and the hub's secrets: a cross-origin or token-less POST to /login is refused before any
PIN is checked, a Host (or Origin) the hub does not answer to is refused (DNS rebinding), the session id is only in
the supervisor's cookie (the hub keeps its hash), station tokens may be kept as hashes, and ``site config check``
refuses a site.toml every user may read while it holds secrets in clear."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import requests
from click.testing import CliRunner
from hubkit import TOKENS, dashboard_sign_in, sign_in_form

from packgate.sync.hub.auth import token_hash
from packgate.sync.hub.cli import site as site_cli
from packgate.sync.upstream.demo_data import DEMO_BADGES

SUPERVISOR = DEMO_BADGES["supervisor"]


def test_a_cross_origin_or_tokenless_sign_in_is_refused_before_the_pin(site):
    http = requests.Session()
    bare = http.post(f"{site.url}/login", data={"badge": SUPERVISOR, "pin": "9876"}, allow_redirects=False, timeout=5)
    assert bare.status_code == 403 and "CSRF" in bare.json()["error"]
    csrf = sign_in_form(http, site.url)
    evil = http.post(f"{site.url}/login", data={"badge": SUPERVISOR, "pin": "9876", "csrf": csrf},
                     headers={"Origin": "http://evil.example"}, allow_redirects=False, timeout=5)
    assert evil.status_code == 403 and "evil.example" in evil.json()["error"]
    forged = requests.post(f"{site.url}/login", data={"badge": SUPERVISOR, "pin": "9876", "csrf": csrf},
                           allow_redirects=False, timeout=5)  # the token without its cookie (another browser)
    assert forged.status_code == 403
    assert dashboard_sign_in(http, site.url, SUPERVISOR, "9876").status_code == 303
    with site.hub.db.read() as conn:
        audited = [row["what"] for row in conn.execute("SELECT what FROM hub_audit ORDER BY n")]
    assert audited == ["sign_in"]  # the refused POSTs never reached the PIN check


def test_a_host_the_hub_does_not_answer_to_is_refused(make_site):
    site = make_site(**{"site.allowed_hosts": ["site-server"]})
    rebound = requests.get(f"{site.url}/", headers={"Host": "attacker.example"}, timeout=5)
    assert rebound.status_code == 400 and "site.allowed_hosts" in rebound.json()["error"]
    assert requests.get(f"{site.url}/", headers={"Host": "site-server:8700"}, timeout=5).status_code == 200
    assert requests.get(f"{site.url}/healthz", headers={"Host": "10.9.9.9"}, timeout=5).status_code == 200
    station = requests.get(f"{site.url}/v1/claims", headers={"Host": "10.9.9.9",
                                                             "Authorization": f"Bearer {TOKENS['ST01']}"}, timeout=5)
    assert station.status_code == 200  # a station's token request is not a browser's


def test_the_session_id_is_kept_as_a_hash(site):
    http = requests.Session()
    assert dashboard_sign_in(http, site.url, SUPERVISOR, "9876").status_code == 303
    cookie = http.cookies["packgate_site"]
    with site.hub.db.read() as conn:
        kept = [row["token"] for row in conn.execute("SELECT token FROM hub_sessions")]
    assert kept == [hashlib.sha256(cookie.encode()).hexdigest()] and cookie not in kept
    assert http.get(f"{site.url}/api/dashboard", timeout=5).status_code == 200
    assert requests.get(f"{site.url}/api/dashboard", cookies={"packgate_site": kept[0]}, timeout=5).status_code == 401


def test_station_tokens_may_be_kept_as_hashes(make_site):
    site = make_site(stations={"ST01": token_hash(TOKENS["ST01"]), "ST02": TOKENS["ST02"]})
    a = site.station("ST01")
    a.confirm("scan", "order", "SO-10001")
    assert a.push() == 1
    wrong = requests.get(f"{site.url}/v1/claims", headers={"Authorization": f"Bearer {token_hash(TOKENS['ST01'])}"},
                         timeout=5)
    assert wrong.status_code == 401  # the hash itself is not a token


def _site_toml(tmp_path: Path, stations: str, mode: int) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f"[site]\ndb = \"{tmp_path / 'hub.db'}\"\n\n[stations]\n{stations}\n", encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_config_check_refuses_secrets_in_clear_every_user_may_read(tmp_path):
    runner = CliRunner()
    clear = _site_toml(tmp_path, f'ST01 = "{TOKENS["ST01"]}"', 0o644)
    refused = runner.invoke(site_cli, ["config", "check", str(clear)])
    assert refused.exit_code == 2 and "readable by every user" in refused.output and "the token of ST01" in refused.output
    os.chmod(clear, 0o640)
    assert runner.invoke(site_cli, ["config", "check", str(clear)]).exit_code == 0
    hashed = _site_toml(tmp_path, f'ST01 = "{token_hash(TOKENS["ST01"])}"', 0o644)
    assert runner.invoke(site_cli, ["config", "check", str(hashed)]).exit_code == 0
    os.chmod(hashed, 0o666)
    assert runner.invoke(site_cli, ["config", "check", str(hashed)]).exit_code == 2


def test_site_token_prints_a_token_and_its_hash():
    out = CliRunner().invoke(site_cli, ["token", "ST07"]).output
    token = out.split('token = "')[1].split('"')[0]
    assert f'ST07 = "{token_hash(token)}"' in out
