"""Schemathesis fuzzes the hub's HTTP API from its own OpenAPI description (``sync/hub/openapi.py``), over real HTTP
against a real hub on SQLite and on PostgreSQL: whatever it sends with a station's token, the answer is never a 5xx
and every error is JSON. The inputs that gave 500s (JSON nested 100,000 deep, ``seq: 2004.0``, ``seq: 10**30``,
NaN, NUL and lone surrogates in text) are each a 400 with the same message on both engines."""
from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from typing import Any, Iterator

import pytest
import requests
import schemathesis
from hubkit import TOKENS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from packgate.device.clock import FakeClock
from packgate.sync.common.ids import make_id
from packgate.sync.common.notify import Notifier
from packgate.sync.hub.config import validate
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.openapi import openapi_document
from packgate.sync.hub.server import start_in_thread as start_hub
from packgate.sync.upstream.server import start_in_thread as start_wms

MAX_EXAMPLES = 40
SCHEMA = schemathesis.openapi.from_dict(openapi_document())
RUN: Counter = Counter()
BEARER = {"Authorization": f"Bearer {TOKENS['ST01']}"}


ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="module")
def hubs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A hub on each engine, each with its own reference WMS: ``{engine: url}``."""
    started = {}
    try:
        for engine in ENGINES:
            tmp = tmp_path_factory.mktemp(f"hubfuzz-{engine}")
            clock = FakeClock()
            wms_url, stop_wms = start_wms("127.0.0.1", 0, tmp / "wms.db", seed_demo=True, clock=clock)
            db = str(tmp / "hub.db") if engine == "sqlite" else request.getfixturevalue("postgres").create_schema()
            hub = Hub(validate({"site.db": db, "site.upstream_url": wms_url, "stations": TOKENS, "site.threads": 16}),
                      clock, notifier=Notifier([]))
            url, stop = start_hub(hub, background=False)
            started[engine] = (url, stop, hub, stop_wms)
            hub.tick()
        yield {engine: url for engine, (url, *_rest) in started.items()}
    finally:
        for engine, (_url, stop, hub, stop_wms) in started.items():
            stop()
            hub.db.close()
            stop_wms()
            print(f"\nschemathesis on the hub ({engine}): {RUN['ops']} operations, {RUN['examples']} examples,"
                  f" {RUN[f'failures {engine}']} failures", file=sys.__stderr__)


@pytest.fixture(params=ENGINES)
def served(request: pytest.FixtureRequest, hubs: dict[str, str]) -> tuple[str, str]:
    return hubs[request.param], request.param


# One test per operation under its own id (as tests/station/test_api_fuzz.py does: schemathesis's own parametrize
# gives every operation's test one id under pytest 9), valid and invalid input alike. Each example is generated once
# and sent to the hub on each engine (generating it is most of the cost).
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _answer(case: Any, url: str) -> tuple[int, str, str]:
    """The hub's status, content type and body for ``case``."""
    if case.path == "/v1/feed/stream":  # it stays open: its status and head, then it is closed
        with requests.request(**case.as_transport_kwargs(base_url=url, headers=BEARER), stream=True,
                              timeout=15) as streamed:
            status = streamed.status_code
            return status, streamed.headers.get("content-type", ""), streamed.text if status != 200 else ""
    response = case.call(base_url=url, headers=BEARER, timeout=15)
    return response.status_code, (response.headers.get("content-type") or [""])[0], response.text


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_input_gives_a_server_error(operation: Any, hubs: dict[str, str]) -> None:
    RUN["ops"] += 1

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
              database=None)
    @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES)))
    def no_server_error(case: Any) -> None:
        RUN["examples"] += 1
        if case.path == "/v1/feed":
            case.query = {**(case.query or {}), "wait": 0}  # a long-poll of up to 30 s per example is not the point
        relayed = case.path in ("/v1/labels", "/v1/waybills/reserve")  # the WMS's own 503 passed on
        for engine, url in hubs.items():
            status, content_type, text = _answer(case, url)
            ok = status < 500 or (status == 503 and relayed)
            expected = {("/metrics", 200): "text/plain", ("/v1/feed/stream", 200): "text/event-stream",
                        ("/api/reports/day.csv", 200): "text/csv"}.get((case.path, status), "application/json")
            if not (ok and content_type.startswith(expected)):
                RUN[f"failures {engine}"] += 1
            assert ok, (engine, case.method, case.path, status, text[:300])
            assert content_type.startswith(expected), (engine, case.method, case.path, status, content_type)

    no_server_error()


def _batch(**change: Any) -> dict[str, Any]:
    item = {"id": make_id("ST01", date(2026, 1, 5), 2004), "key": "k-2004", "station": "ST01", "seq": 2004, "action": "scan",
            "object_type": "order", "object_id": "SO-10001", "location": "ST01", "at": "2026-01-05T08:00:00.000+08:00",
            "payload": {}}
    item.update(change)
    return {"station": "ST01", "confirmations": [item]}


BAD_BODIES = {
    "nested 100,000 deep": b'{"station": "ST01", "confirmations": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
    "seq 10**30": json.dumps(_batch(seq=10**30)).encode(),
    "NaN in a payload": json.dumps(_batch(payload={"weight": float("nan")})).encode(),
    "lone surrogate in object_id": json.dumps(_batch(object_id="SO-\ud800")).encode(),
    "NUL in object_id": json.dumps(_batch(object_id="SO-\u000010001")).encode(),
    "nested 40 deep": json.dumps(_batch(payload={"a": json.loads("[" * 40 + "]" * 40)})).encode(),
}


def test_bad_bodies_are_a_400_naming_the_problem_on_both_engines(served: tuple[str, str]) -> None:
    url, engine = served
    answers = {}
    for name, raw in BAD_BODIES.items():
        response = requests.post(f"{url}/v1/confirmations", data=raw, headers={**BEARER, "Content-Type": "application/json"},
                                  timeout=15)
        assert response.status_code == 400, (name, response.status_code, response.text[:200])
        answers[name] = response.json()["error"]
    assert "nested deeper than 32 levels" in answers["nested 100,000 deep"]
    assert "$.confirmations[0].seq: the integer 1000000000000000000" in answers["seq 10**30"]
    assert "NaN" in answers["NaN in a payload"]
    assert "$.confirmations[0].object_id: text must not contain a lone surrogate" in answers["lone surrogate in object_id"]
    assert "$.confirmations[0].object_id: text must not contain NUL" in answers["NUL in object_id"]
    EXPECTED.setdefault("answers", answers)
    assert answers == EXPECTED["answers"], "the engines answer differently"


EXPECTED: dict[str, Any] = {}


def test_a_decimal_seq_is_refused_as_an_item_on_both_engines(served: tuple[str, str]) -> None:
    url, _engine = served
    results = requests.post(f"{url}/v1/confirmations", data=json.dumps(_batch()).replace('"seq": 2004', '"seq": 2004.0'),
                            headers={**BEARER, "Content-Type": "application/json"}, timeout=15).json()["results"]
    assert results[0]["status"] == "rejected" and results[0]["code"] == 400
    assert results[0]["reason"] == "seq must be a whole number from 1 to 2^63-1 (got 2004.0)"


def test_a_nul_in_the_path_or_query_is_a_400(served: tuple[str, str]) -> None:
    url, _engine = served
    for path in ("/v1/orders/SO-%00-1", "/v1/orders/SO-%00/confirmations", "/v1/claims/SO-%00",
                 "/v1/confirmations?station=ST01&since=2026-01-01T00:00:00%2B00:00&until=2026-01-02T00:00:00%2B00:00&by=%00"):
        method = "DELETE" if path.startswith("/v1/claims/") else "GET"
        response = requests.request(method, f"{url}{path}", headers=BEARER, timeout=15)
        assert response.status_code == 400 and "NUL" in response.json()["error"], (path, response.text[:200])
