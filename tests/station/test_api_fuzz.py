"""Schemathesis fuzzes the station's HTTP API from its own OpenAPI description, over real HTTP (cheroot on
127.0.0.1) against a real Station: whatever it sends, the answer is never a 5xx (bar a 503 that names a fault)
and every error is JSON. Examples per operation are bounded (``MAX_EXAMPLES``) so the run stays short."""
from __future__ import annotations

import sys
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from packgate.device.clock import FakeClock
from packgate.station.runtime.config import validate
from packgate.station.service import Station
from packgate.station.web.app import create_app
from packgate.station.web.openapi import OPENAPI
from packgate.station.web.serving import serve_in_thread
from packgate.sync.client import UpstreamClient
from packgate.sync.outbox import Outbox
from packgate.sync.reference import ReferenceCache

TOKEN = "fuzz-token-0123456789abcdef"
MAX_EXAMPLES = 40
SCHEMA = schemathesis.openapi.from_dict(OPENAPI)
RUN: Counter = Counter()


@pytest.fixture(scope="module")
def served(upstream_url, tmp_path_factory):
    db = str(tmp_path_factory.mktemp("fuzz") / "station.db")
    clock = FakeClock()
    client = UpstreamClient(upstream_url, deadline_s=5, clock=clock)
    cache = ReferenceCache(db, client, clock)
    assert cache.refresh()["ok"]
    station = Station(validate({"station.id": "ST01", "upstream.url": upstream_url}), db_path=db, cache=cache,
                      outbox=Outbox(db, "ST01", clock), clock=clock)
    url, stop = serve_in_thread(create_app(station, api_tokens=(TOKEN,)))
    http = requests.Session()
    yield url, http
    http.close()
    stop()
    station.close()
    operations = sum(1 for k in RUN if k.startswith("op "))
    print(f"\nschemathesis: {operations} operations, {RUN['examples']} examples, {RUN['failures']} failures",
          file=sys.__stderr__)


# One test per operation, each under its own id: pytest-xdist runs the suite file by file and keys a file's tests
# by id (schemathesis's own parametrize gives every operation's test the same id under pytest 9, so only one ran).
# Valid and invalid input alike (the schema's generation modes), 40 examples per operation as for the hub and the WMS.
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_input_gives_a_server_error(operation, served):
    url, http = served

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), database=None)
    @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES)))
    def no_server_error(case):
        RUN[f"op {case.operation.label}"] += 1
        RUN["examples"] += 1
        if case.path == "/api/v1/events":  # a stream never ends: open it and close it
            response = http.get(f"{url}/api/v1/events", headers={"Authorization": f"Bearer {TOKEN}"}, stream=True, timeout=5)
            response.close()
            assert response.status_code == 200
            return
        response = case.call(base_url=url, session=http, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        ok = response.status_code < 500 or (response.status_code == 503 and case.path in (
            "/healthz", "/api/v1/supervisor/access-report"))  # degraded; a report waiting while the station is busy
        content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis: lower-case names, lists
        is_json = content_type.startswith(("application/json", "text/plain")) or \
            (response.status_code == 200 and content_type.startswith(("image/png", "text/csv")))  # a preview, a report
        if not (ok and is_json):
            RUN["failures"] += 1
        assert ok, (case.method, case.path, response.status_code, response.text[:300])
        assert is_json, (case.method, case.path, response.status_code, content_type)

    no_server_error()
