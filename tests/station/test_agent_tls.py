"""TLS for the Wi-Fi: with ``web.tls_cert``/``web.tls_key`` the agent serves HTTPS itself with Secure cookies;
without TLS on a non-loopback address it warns at start."""
from __future__ import annotations

import logging
import subprocess

import requests

from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate


def _config(tmp_path, upstream_url, **extra):
    return validate({"station.data_dir": str(tmp_path / "st"), "upstream.url": upstream_url, "scale.enabled": False,
                     "scanner.enabled": False, "badge.enabled": False, **extra})


def test_the_agent_serves_https_with_secure_cookies(tmp_path, upstream_url):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    agent = Agent(_config(tmp_path, upstream_url, **{"web.tls_cert": str(cert), "web.tls_key": str(key)}), port=0,
                  start_devices=False).start()
    try:
        assert agent.url.startswith("https://")
        page = requests.get(f"{agent.url}/", verify=str(cert), timeout=5)
        assert page.status_code == 200 and "Secure" in page.headers["Set-Cookie"]
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        plain = agent.url.replace("https://", "http://")
        try:
            answered = requests.get(f"{plain}/healthz", timeout=5).status_code
        except requests.RequestException:
            answered = None
        assert answered in (None, 400)  # no plain HTTP on the TLS port
    finally:
        agent.stop()


def test_plain_http_on_a_wifi_address_warns_at_start(tmp_path, upstream_url, caplog):
    caplog.set_level(logging.WARNING, logger="packgate.agent")
    agent = Agent(_config(tmp_path, upstream_url, **{"web.host": "0.0.0.0"}), port=0, start_devices=False)
    agent.stop()
    assert any("plain HTTP" in r.getMessage() and "web.tls_cert" in r.getMessage() for r in caplog.records)
