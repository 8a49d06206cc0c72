"""TLS across the site: ``packgate site tls`` makes a site CA and a hub certificate, the hub serves HTTPS with it, a
station trusts the site CA by configuration (``upstream.ca_file``, added to the system's certificates, not
replacing them), and a request that failed over HTTPS is never sent in plain HTTP (a URL list mixing https and http
is refused)."""
from __future__ import annotations

import ssl
import stat
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from click.testing import CliRunner
from hubkit import TOKENS, FakeStation

from packgate.station.errors import ConfigError
from packgate.station.runtime.config import validate as station_config
from packgate.sync.client import UpstreamClient
from packgate.sync.common.http import connect_http, tls_context
from packgate.sync.common.notify import Notifier
from packgate.sync.common.webserver import GatedServer, serve_in_thread
from packgate.sync.errors import TransientUpstreamError
from packgate.sync.hub.cli import site as site_cli
from packgate.sync.hub.config import validate
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.server import start_in_thread
from packgate.sync.hub.tls import issue, make_ca


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    runner = CliRunner()
    made = runner.invoke(site_cli, ["tls", "ca", str(tmp_path / "ca"), "--name", "DC1"])
    assert made.exit_code == 0, made.output
    cert = runner.invoke(site_cli, ["tls", "cert", "hub-a", "--ca", str(tmp_path / "ca"), "--host", "hub-a.site.internal",
                                    "--host", "127.0.0.1"])
    assert cert.exit_code == 0, cert.output
    return tmp_path / "ca"


@pytest.fixture
def tls_hub(tmp_path: Path, pki: Path, wms: str, clock: Any) -> Iterator[str]:
    hub = Hub(validate({"site.db": str(tmp_path / "hub.db"), "site.upstream_url": wms, "stations": TOKENS,
                        "site.threads": 16, "site.tls_cert": str(pki / "hub-a.pem"),
                        "site.tls_key": str(pki / "hub-a.key")}), clock, notifier=Notifier([]))
    url, stop = start_in_thread(hub, background=False)
    hub.tick()
    yield url
    stop()
    hub.db.close()


def test_the_tls_command_writes_keys_only_the_owner_reads_and_never_overwrites(pki: Path) -> None:
    for key in ("site-ca.key", "hub-a.key"):
        assert stat.S_IMODE((pki / key).stat().st_mode) == 0o600
    again = CliRunner().invoke(site_cli, ["tls", "cert", "hub-a", "--ca", str(pki), "--host", "127.0.0.1"])
    assert again.exit_code == 2 and "exists already" in again.output
    chain = (pki / "hub-a.pem").read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2 and chain.endswith((pki / "site-ca.pem").read_text())


def test_the_hub_serves_https_and_a_station_trusts_the_site_ca_by_configuration(tls_hub: str, pki: Path,
                                                                                 tmp_path: Path, clock: Any) -> None:
    assert tls_hub.startswith("https://")
    station = FakeStation(tmp_path, "ST01", tls_hub, clock)
    station.client = UpstreamClient(tls_hub, deadline_s=5, clock=clock, token=TOKENS["ST01"], ca_file=str(pki / "site-ca.pem"))
    station.worker.client = station.client
    station.confirm("scan", "order", "SO-10001")
    assert station.push() == 1
    untrusting = UpstreamClient(tls_hub, deadline_s=5, clock=clock, token=TOKENS["ST01"])
    with pytest.raises(TransientUpstreamError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusting.healthz()
    assert requests.get(f"{tls_hub}/healthz", verify=str(pki / "site-ca.pem"), timeout=5).json()["ok"] is not None


def test_the_site_ca_is_added_to_the_system_certificates_not_instead_of_them(pki: Path) -> None:
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    site = tls_context(str(pki / "site-ca.pem")).cert_store_stats()["x509_ca"]
    assert system > 0 and site == system + 1


def test_plain_http_on_the_hubs_tls_port_is_refused(tls_hub: str) -> None:
    try:
        answer = requests.get(tls_hub.replace("https://", "http://") + "/healthz", timeout=5).status_code
    except requests.RequestException:
        answer = None
    assert answer in (None, 400)


def test_an_https_url_never_falls_back_to_http(tls_hub: str, pki: Path, tmp_path: Path) -> None:
    plain = "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="mix https and http"):
        connect_http([tls_hub, plain])
    with pytest.raises(ValueError, match="mix https and http"):
        UpstreamClient([tls_hub, plain], token=TOKENS["ST01"])
    with pytest.raises(ConfigError, match="upstream.url: the URLs mix https and http"):
        station_config({"upstream.url": [tls_hub, plain], "upstream.kind": "hub", "upstream.token": TOKENS["ST01"]})
    # two https hubs, the first with a certificate of another CA: the request goes to the second, over https
    make_ca(tmp_path / "other", "Elsewhere")
    issue(tmp_path / "other", "stranger", ["127.0.0.1"])
    stranger = GatedServer(("127.0.0.1", 0), lambda env, start: [start("200 OK", [])] and [b"{}"], numthreads=2,
                           tls_cert=str(tmp_path / "other" / "stranger.pem"), tls_key=str(tmp_path / "other" / "stranger.key"))
    stop = serve_in_thread(stranger)
    try:
        both = UpstreamClient([f"https://127.0.0.1:{stranger.port}", tls_hub], deadline_s=5, token=TOKENS["ST01"],
                              ca_file=str(pki / "site-ca.pem"))
        assert both.healthz()["ok"] is not None
        assert both.http.in_use == tls_hub  # type: ignore[union-attr]
    finally:
        stop()


def test_the_ca_file_must_be_a_certificate(tmp_path: Path) -> None:
    (tmp_path / "not-a-ca.pem").write_text("hello")
    with pytest.raises(ConfigError, match="upstream.ca_file"):
        station_config({"upstream.ca_file": str(tmp_path / "not-a-ca.pem")})
    with pytest.raises(ConfigError, match="upstream.ca_file: no file"):
        station_config({"upstream.ca_file": str(tmp_path / "missing.pem")})


def test_the_feed_streams_over_https_through_the_servers_pump(tls_hub: str, pki: Path, tmp_path: Path,
                                                              clock: Any) -> None:
    ca = str(pki / "site-ca.pem")
    auth = {"Authorization": f"Bearer {TOKENS['ST02']}"}
    head = requests.get(f"{tls_hub}/v1/feed?since=0&wait=0&limit=1", headers=auth, verify=ca, timeout=5).json()["head"]
    station = FakeStation(tmp_path, "ST01", tls_hub, clock)
    station.client = UpstreamClient(tls_hub, deadline_s=5, clock=clock, token=TOKENS["ST01"], ca_file=ca)
    station.worker.client = station.client
    with requests.get(f"{tls_hub}/v1/feed/stream?since={head}", headers=auth, verify=ca, stream=True,
                      timeout=10) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines(decode_unicode=True)
        assert next(lines) == ": packgate site feed"
        station.pick("SO-10001", "T-1")
        assert station.push() >= 1
        data = next(line for line in lines if line.startswith("data: "))  # written by the pump on a TLS socket
        assert '"SO-10001"' in data
