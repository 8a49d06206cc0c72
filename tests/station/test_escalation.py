"""Escalation scheduling: on time to the millisecond, once, never after packed or acknowledged."""
from datetime import datetime, timedelta, timezone

import pytest

from packgate.station.core.escalation import DEFAULT, EscalationConfig, EscalationLevel, due, message, next_deadline, pending
from packgate.station.errors import ConfigError, StationError

CST = timezone(timedelta(hours=8))
PICKED = datetime(2026, 2, 10, 9, 0, 0, tzinfo=CST)
ORDERS = {"SO-1": PICKED}


def at(minutes, ms=0):
    return PICKED + timedelta(minutes=minutes, milliseconds=ms)


def test_first_level_fires_at_12_minutes_exactly_not_before():
    assert due(ORDERS, at(11, 59_999)) == []
    fired = due(ORDERS, at(12))
    assert [(e.order_id, e.level, e.deadline) for e in fired] == [("SO-1", 1, at(12))]
    assert fired[0].release_priority and fired[0].target == "shift_supervisor"


def test_fires_once_with_the_fired_set():
    first = due(ORDERS, at(12))
    fired = {e.key for e in first}
    assert due(ORDERS, at(12, 1), fired=fired) == []
    assert due(ORDERS, at(21, 59_999), fired=fired) == []


def test_second_level():
    fired = {("SO-1", 1)}
    second = due(ORDERS, at(22), fired=fired)
    assert [(e.level, e.deadline, e.target, e.release_priority) for e in second] == [(2, at(22), "site_manager", False)]
    assert due(ORDERS, at(60), fired=fired | {("SO-1", 2)}) == []


def test_after_an_outage_both_levels_are_due_in_order():
    assert [e.level for e in due(ORDERS, at(30))] == [1, 2]


@pytest.mark.parametrize("kwargs", [{"acknowledged": {"SO-1"}}, {"packed": {"SO-1"}}])
def test_acknowledged_or_packed_orders_never_escalate(kwargs):
    assert due(ORDERS, at(30), **kwargs) == []
    assert next_deadline(ORDERS, **kwargs) is None


def test_restart_with_the_persisted_fired_set_does_not_refire():
    fired = set()
    sent = []
    for now in (at(12), at(12, 500), at(13)):  # "restarts" re-run with the stored set
        for e in due(ORDERS, now, fired=frozenset(fired)):
            sent.append(e.key)
            fired.add(e.key)
    assert sent == [("SO-1", 1)]


def test_next_deadline_lets_the_caller_sleep_exactly():
    orders = {"SO-1": PICKED, "SO-2": PICKED + timedelta(minutes=5)}
    assert next_deadline(orders) == at(12)
    assert next_deadline(orders, fired={("SO-1", 1)}) == at(17)
    assert next_deadline(orders, fired={("SO-1", 1), ("SO-2", 1)}) == at(22)
    assert next_deadline({}) is None
    assert [e.order_id for e in pending(orders)] == ["SO-1", "SO-2", "SO-1", "SO-2"]


def test_mixed_offsets_compare_as_instants():
    utc_pick = PICKED.astimezone(timezone.utc)
    assert due({"SO-1": utc_pick}, at(12))[0].deadline == at(12)
    assert due({"SO-1": utc_pick}, at(11, 59_999)) == []


def test_naive_times_are_refused():
    with pytest.raises(StationError):
        due({"SO-1": datetime(2026, 2, 10, 9)}, at(30))
    with pytest.raises(StationError):
        due(ORDERS, datetime(2026, 2, 10, 10))


def test_config():
    config = EscalationConfig.from_minutes(5, 8)
    assert [e.level for e in due(ORDERS, at(5), config)] == [1] and due(ORDERS, at(4, 59_999), config) == []
    assert [e.level for e in due(ORDERS, at(8), config)] == [1, 2]
    assert [e.level for e in due(ORDERS, at(30), EscalationConfig.from_minutes(5, None))] == [1]
    assert DEFAULT.levels[1].after == timedelta(minutes=22)
    for bad in [(), (EscalationLevel(1, timedelta(minutes=10), "a"), EscalationLevel(2, timedelta(minutes=5), "b")),
                (EscalationLevel(1, timedelta(0), "a"),),
                (EscalationLevel(2, timedelta(minutes=1), "a"), EscalationLevel(1, timedelta(minutes=2), "b"))]:
        with pytest.raises(ConfigError):
            EscalationConfig(bad)


def test_message_in_both_languages():
    esc = due(ORDERS, at(12))[0]
    title, body = message(esc, at(12), tote="T-0001")
    assert "SO-1" in title and "level 1" in title
    assert "T-0001" in body and "2026-02-10T09:00:00.000+08:00" in body and "12 min" in body
    assert "released to any packer" in body
    title_zh, body_zh = message(esc, at(12), tote="T-0001", lang="zh")
    assert "SO-1" in title_zh and "12分钟" in body_zh and "释放" in body_zh
    second = due(ORDERS, at(22), fired={("SO-1", 1)})[0]
    assert "released" not in message(second, at(22))[1]
