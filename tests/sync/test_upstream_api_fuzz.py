"""Schemathesis fuzzes the reference WMS's HTTP API from its OpenAPI description (``sync/upstream/openapi.json``),
over real HTTP against the real server with station, relay and admin tokens: whatever it sends, the answer is
never a 5xx and every error is JSON."""
from __future__ import annotations

import sys
from collections import Counter
from typing import Any, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from packgate.device.clock import FakeClock
from packgate.sync.upstream.openapi import openapi_document
from packgate.sync.upstream.server import start_in_thread

MAX_EXAMPLES = 40
SCHEMA = schemathesis.openapi.from_dict(openapi_document())
RUN: Counter = Counter()
TOKENS = {"ST01": "st01-token-0123456789abcdef", "ST02": "st02-token-0123456789abcdef"}
ADMIN, RELAY = "admin-token-0123456789abcdef", "relay-token-0123456789abcdef"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path_factory.mktemp("wmsfuzz") / "wms.db", seed_demo=True,
                                clock=FakeClock(), station_tokens=TOKENS, admin_token=ADMIN, relay_token=RELAY)
    yield url
    stop()
    print(f"\nschemathesis on the reference WMS: {len([k for k in RUN if k.startswith('op ')])} operations,"
          f" {RUN['examples']} examples ({RUN['requests']} requests), {RUN['failures']} failures", file=sys.__stderr__)


# One test per operation under its own id (as tests/station/test_api_fuzz.py does: schemathesis's own parametrize
# gives every operation's test one id under pytest 9), valid and invalid input alike.
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_input_gives_a_server_error(operation: Any, served: str) -> None:
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
              database=None)
    @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES)))
    def no_server_error(case: Any) -> None:
        RUN[f"op {case.operation.label}"] += 1
        RUN["examples"] += 1
        for token in (TOKENS["ST01"], RELAY, ADMIN):
            RUN["requests"] += 1
            response = case.call(base_url=served, headers={"Authorization": f"Bearer {token}"}, timeout=15)
            content_type = (response.headers.get("content-type") or [""])[0]
            ok = response.status_code < 500 and content_type.startswith("application/json")
            if not ok:
                RUN["failures"] += 1
            assert ok, (case.method, case.path, response.status_code, content_type, response.text[:300])

    no_server_error()
