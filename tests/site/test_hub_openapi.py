"""The hub's OpenAPI document against its app, both ways: every route but the dashboard's pages and forms is
documented, everything documented is served; and the hub publishes no files (it had a static folder in ``$PWD``)."""
from __future__ import annotations

import pytest
from openapi_routes import compare

from packgate.device.clock import FakeClock
from packgate.sync.hub.config import validate
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.openapi import openapi_document
from packgate.sync.hub.server import create_hub_app

#: the supervisors' HTML pages, the forms they post (answered with a page or a redirect to it) and the dashboard's own
#: script, style and chart library (package data by name, nothing else)
PAGES = ("/", "/login", "/logout", "/escalations/ack", "/claims/release", "/alerts/ack", "/reports", "/reports/reconcile",
         "/reviews/decide", "/carriers", "/weights", "/weights/decide", "/static/<path:name>")


@pytest.fixture
def app(tmp_path):
    hub = Hub(validate({"site.db": str(tmp_path / "hub.db"), "stations": {"ST01": "token-of-station-01-abcdef"}}),
              FakeClock())
    yield create_hub_app(hub)
    hub.db.close()


def test_every_route_but_the_pages_is_documented_and_every_operation_is_served(app):
    undocumented, unserved = compare(app, openapi_document(), pages=PAGES)
    assert undocumented == [] and unserved == []
    assert app.test_client().get("/openapi.json").get_json() == openapi_document()


def test_the_hub_serves_no_files(app, tmp_path, monkeypatch):
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "site.toml").write_text("[stations]\nST01 = 'secret'\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    response = app.test_client().get("/static/site.toml")
    assert response.status_code == 404 and "secret" not in response.get_data(as_text=True)
    for name in ("dashboard.js", "vendor/uPlot-1.6.32.iife.min.js", "vendor/uPlot-1.6.32.LICENSE.txt"):
        assert app.test_client().get(f"/static/{name}").status_code == 200  # the page's own, from the package
    for name in ("../hub.py", "vendor/../../hub.py", "templates/base.html"):
        assert app.test_client().get(f"/static/{name}").status_code == 404
