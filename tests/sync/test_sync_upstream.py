import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packgate.device.clock import FakeClock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.ids import make_id
from packgate.sync.common.jsonbytes import JSONInputError, dumps, loads_request
from packgate.sync.errors import PermanentUpstreamError
from packgate.sync.upstream.openapi import openapi_document
from packgate.sync.upstream.server import create_upstream_app

TZ = timezone(timedelta(hours=8))


def conf(n, **extra):
    seq = n
    body = {"id": make_id("ST01", date(2026, 1, 5), seq), "key": f"key-{seq:08d}", "station": "ST01", "seq": seq,
            "action": "scan", "object_type": "order", "object_id": "SO-10001", "operator": "E001",
            "device": "ST01-scanner", "location": "ST01", "at": f"2026-01-05T08:{seq % 60:02d}:00.000+08:00",
            "payload": {}, "image_sha256": None}
    body.update(extra)
    return body


def post(client, *items):
    return client.send_confirmations("ST01", [dumps(i) for i in items])


def test_repeated_key_answers_duplicate_with_one_effect(client):
    first = post(client, conf(1))
    assert first[conf(1)["id"]]["status"] == "accepted"
    again = post(client, conf(1))[conf(1)["id"]]
    assert again["status"] == "duplicate" and again["first"]["status"] == "accepted"
    stats = client._json(client._call("GET", "/v1/admin/stats"))
    assert stats["confirmations"] == 1 and stats["effects"] == 1 and stats["duplicate"] == 1


def test_reused_key_with_other_payload_is_rejected_per_item(client):
    post(client, conf(1))
    results = post(client, conf(1, payload={"qty": 2}), conf(2))
    assert results[conf(1)["id"]]["status"] == "rejected" and results[conf(1)["id"]]["code"] == 422
    assert "different payload" in results[conf(1)["id"]]["reason"]
    assert results[conf(2)["id"]]["status"] == "accepted"


def test_same_id_with_a_new_key_is_rejected(client):
    post(client, conf(1))
    result = post(client, conf(1, key="another-key-123"))[conf(1)["id"]]
    assert result["status"] == "rejected" and "reset" in result["reason"]


@pytest.mark.parametrize("change,reason", [
    ({"id": "ST01-20260105-000001-0"}, "check character"),
    ({"at": "2026-01-05T08:00:00"}, "offset"),
    ({"station": "ST02"}, "differs"),
    ({"seq": 2}, "seq"),
    ({"payload": "x"}, "payload"),
])
def test_invalid_items_are_rejected_with_a_reason(client, change, reason):
    item = conf(1, **change)
    result = client.send_confirmations("ST01", [dumps(item)])[item["id"]]
    assert result["status"] == "rejected" and reason in result["reason"]


def test_bad_envelope_is_a_permanent_400(client):
    with pytest.raises(PermanentUpstreamError) as info:
        client._call("POST", "/v1/confirmations", b'{"confirmations": 5}')
    assert info.value.status == 400


def station_conf(station, n, **extra):
    return conf(n, id=make_id(station, date(2026, 1, 5), n), station=station, location=station, **extra)


def test_several_stations_batches_in_one_request_answer_batch_by_batch_as_their_own_requests_would(client):
    post(client, conf(1))
    answers = client.send_batches([("ST01", [dumps(conf(1)), dumps(conf(2))]),
                                   ("ST02", [dumps(station_conf("ST02", 1)), dumps(station_conf("ST02", 2, seq=3))])])
    assert [{i: r["status"] for i, r in answer.items()} for answer in answers] == [
        {conf(1)["id"]: "duplicate", conf(2)["id"]: "accepted"},
        {station_conf("ST02", 1)["id"]: "accepted", station_conf("ST02", 2)["id"]: "rejected"}]
    assert "seq" in answers[1][station_conf("ST02", 2)["id"]]["reason"]
    again = client.send_confirmations("ST02", [dumps(station_conf("ST02", 1))])
    assert again[station_conf("ST02", 1)["id"]]["status"] == "duplicate"  # the same dedupe table as one station's
    stats = client._json(client._call("GET", "/v1/admin/stats"))
    assert stats["confirmations"] == 3 and stats["requests"] == 3  # one request, however many stations in it


@pytest.mark.parametrize("envelope,status,words", [
    (b'{"batches": {"station": "ST01"}}', 400, "expected"),
    (b'{"batches": [{"station": "ST01", "confirmations": 5}]}', 400, "expected"),
    (b'{"station": "ST01", "confirmations": []}', 400, "expected"),
    (b'{"batches": [{"station": "ST01", "confirmations": []}, {"station": "ST01", "confirmations": []}]}', 400,
     "more than one batch"),
    (b'{"batches": [{"station": "ST01", "confirmations": [' + b",".join([b"{}"] * 600) + b']}, {"station": "ST02",'
     b' "confirmations": [' + b",".join([b"{}"] * 401) + b"]}]}", 413, "confirmations per request (this one has 1001)"),
    (b'{"batches": [' + b",".join(b'{"station": "S%d", "confirmations": []}' % i for i in range(1001)) + b"]}", 413,
     "batches per request (this one has 1001)"),
])
def test_a_batches_request_the_contract_does_not_allow_is_refused_as_a_whole(client, envelope, status, words):
    with pytest.raises(PermanentUpstreamError) as info:
        client._call("POST", "/v1/confirmations/batches", envelope)
    assert info.value.status == status and words in str(info.value)
    stats = client._json(client._call("GET", "/v1/admin/stats"))
    assert stats["confirmations"] == 0 and stats.get("requests", 0) == 0


def test_reconciliation_window_uses_offsets(client):
    post(client, conf(1), conf(2), conf(3))
    since = datetime(2026, 1, 5, 0, 1, tzinfo=timezone.utc)   # = 08:01+08:00
    until = datetime(2026, 1, 5, 8, 3, tzinfo=TZ)
    assert client.reconcile("ST01", since, until) == [conf(1)["id"], conf(2)["id"]]
    with pytest.raises(PermanentUpstreamError):
        client._call("GET", "/v1/confirmations?station=ST01&since=2026-01-05T00:00:00&until=2026-01-06T00:00:00%2B08:00")


def test_pack_updates_the_upstream_order_once(client):
    before = client.get_reference()["cursor"]
    post(client, conf(1, action="pack"))
    post(client, conf(1, action="pack"))
    changed = client.get_reference(since=before)
    assert [o["status"] for o in changed["orders"]] == ["packed"]
    assert len(client.order_confirmations("SO-10001")) == 1


def test_openapi_documents_every_route_and_every_operation_is_served(tmp_path):
    from openapi_routes import compare

    doc = openapi_document()
    app = create_upstream_app(tmp_path / "x.db", clock=FakeClock())
    undocumented, unserved = compare(app, doc)
    assert undocumented == [] and unserved == [], "sync/upstream/openapi.json and the routes differ"
    served = json.loads(app.test_client().get("/openapi.json").data)
    assert served == doc


def test_the_upstream_serves_no_files(tmp_path, monkeypatch):
    """No static folder: a ``static/`` folder in the working directory is not published (it was, from ``$PWD``)."""
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "notes.txt").write_text("private", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    client = create_upstream_app(tmp_path / "x.db", clock=FakeClock()).test_client()
    assert client.get("/static/notes.txt").status_code == 404


def test_dates_carry_offsets_and_skew_is_measured(client):
    client.healthz()
    assert client.last_skew_s is not None and abs(client.last_skew_s) < 2


def test_skew_is_visible_when_the_clocks_disagree(tmp_path):
    from packgate.sync.upstream.server import start_in_thread

    ahead = FakeClock(datetime.now(timezone.utc) + timedelta(seconds=42))
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "u.db", clock=ahead)
    try:
        c = UpstreamClient(url)
        c.healthz()
        assert 40 < c.last_skew_s < 44
    finally:
        stop()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.one_of(json_values, st.fixed_dictionaries(
    {k: json_values for k in ("id", "key", "station", "seq", "action", "object_type", "object_id", "location", "at",
                              "payload")})), max_size=4))
def test_any_json_batch_gets_an_answer_per_item_never_a_500(tmp_path, items):
    app = create_upstream_app(tmp_path / "fuzz.db", clock=FakeClock(), strict_orders=False)
    body = json.dumps({"station": "ST01", "confirmations": items})
    resp = app.test_client().post("/v1/confirmations", data=body)
    try:
        loads_request(body)
    except JSONInputError as exc:  # NUL, a lone surrogate, an integer past 64 bits: the whole body, named
        assert resp.status_code == 400 and str(exc) in json.loads(resp.data)["error"]
        return
    assert resp.status_code == 200
    results = json.loads(resp.data)["results"]
    assert len(results) == len(items) and all(r["status"] in ("accepted", "duplicate", "rejected") for r in results)
    garbage = app.test_client().post("/v1/confirmations", data=b"\xff{not json")
    assert garbage.status_code == 400
