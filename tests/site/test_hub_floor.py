"""The dashboard's arithmetic (``sync/hub/floor.py``, pure): stages, SLA colours, durations in words, timelines,
stage times with average and p90, the shift's start, parcels per hour and pass rates."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from packgate.sync.hub import floor

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=CST)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0 s"), (44.9, "44 s"), (60, "1 min"), (12 * 60 + 59, "12 min"), (3600, "1 h 00 min"),
    (3900, "1 h 05 min"), (26 * 3600, "26 h 00 min"), (-5, "0 s")])
def test_durations_read_as_words(seconds, shown):
    assert floor.human_duration(seconds) == shown


def test_durations_in_chinese_units():
    units = floor.Units("{n} 小时", "{n} 分钟", "{n} 秒")
    assert floor.human_duration(3900, units) == "1 小时 05 分钟"
    assert floor.human_duration(720, units) == "12 分钟"


def test_sla_colour_by_the_stages_thresholds():
    sla = {"packing": [6.0, 12.0]}
    assert floor.sla_colour("packing", 5 * 60 + 59, sla) == "green"
    assert floor.sla_colour("packing", 6 * 60, sla) == "amber"
    assert floor.sla_colour("packing", 12 * 60, sla) == "red"
    assert floor.sla_colour("weighed", 10**6, sla) == "green"  # no threshold: never late


def test_sla_tables_are_checked():
    assert floor.sla_problem(floor.DEFAULT_SLA) is None
    assert "unknown stage" in (floor.sla_problem({"lunch": [1, 2]}) or "")
    assert "[amber, red]" in (floor.sla_problem({"packing": [1]}) or "")
    assert "comes before" in (floor.sla_problem({"packing": [5, 2]}) or "")
    assert floor.sla_problem({"packing": [True, 2]}) is not None


def test_the_hubs_open_is_the_backlog():
    assert floor.dashboard_stage("open") == "backlog"
    assert floor.dashboard_stage("packing") == "packing"


def test_percentile_and_summary():
    assert floor.percentile([], 0.9) is None
    assert floor.percentile([5.0], 0.9) == 5.0
    values = [float(v) for v in range(1, 11)]
    assert floor.percentile(values, 0.9) == 9.0
    assert floor.summary(values) == {"n": 10, "avg_s": 5.5, "p90_s": 9.0}
    assert floor.summary([]) == {"n": 0, "avg_s": None, "p90_s": None}


def test_a_timeline_has_a_bar_per_stage_from_release_to_shipped():
    milestones = {"picking": at(50), "picked": at(40), "packing": at(30), "weighed": at(25), "packed": at(20),
                  "shipped": at(5)}
    bars = floor.timeline(at(60), milestones, NOW, "shipped")
    assert [b["stage"] for b in bars] == ["backlog", "picking", "picked", "packing", "weighed", "packed", "shipped"]
    assert [b["seconds"] for b in bars] == [600, 600, 600, 300, 300, 900, 0]
    assert bars[0]["end"] == bars[1]["start"]


def test_the_current_stage_lasts_until_now_and_a_skipped_stage_has_no_bar():
    bars = floor.timeline(at(30), {"picked": at(20)}, NOW, "picked")
    assert [(b["stage"], b["seconds"], b["end"]) for b in bars] == [
        ("backlog", 600, datetime.fromisoformat(at(20))), ("picked", 1200, None)]
    assert floor.timeline(None, {}, NOW) == []


def test_a_release_time_after_the_first_step_is_left_out():
    bars = floor.timeline(at(5), {"picked": at(20), "packed": at(10)}, NOW, "packed")
    assert [b["stage"] for b in bars] == ["picked", "packed"]


def test_a_cancelled_orders_last_stage_does_not_run_on():
    bars = floor.timeline(at(30), {"picked": at(20), "cancelled": at(10)}, NOW, "cancelled")
    assert [b["stage"] for b in bars] == ["backlog", "picked", "cancelled"]
    assert bars[1]["seconds"] == 600 and bars[2]["seconds"] == 0


def test_stage_durations_count_stages_that_ended_in_the_window():
    orders = [(at(120), {"picked": at(90), "packing": at(50), "packed": at(45)}),
              (at(30), {"picked": at(20), "packing": at(10)})]
    hour = floor.stage_durations(orders, NOW - timedelta(hours=1), NOW)
    assert hour["picked"] == [2400.0, 600.0]
    assert hour["backlog"] == [600.0]  # the first order's backlog ended 90 min ago: not in the last hour
    assert hour["packing"] == [300.0]
    assert hour["packed"] == []  # still at the dock


def test_the_shift_starts_at_the_latest_start_before_now():
    starts = ["06:00", "14:00", "22:00"]
    assert floor.shift_start(NOW, starts) == NOW.replace(hour=6)
    assert floor.shift_start(NOW.replace(hour=3), starts) == (NOW - timedelta(days=1)).replace(hour=22)
    assert floor.shift_start(NOW, []) == NOW.replace(hour=0)
    assert floor.shift_problem(["06:00"]) is None
    assert floor.shift_problem(["6am"]) is not None and floor.shift_problem([6]) is not None


def test_parcels_per_hour_and_pass_rates():
    buckets = floor.hour_buckets(NOW.replace(minute=30), 3)
    assert [b.hour for b in buckets] == [8, 9, 10]
    events = [("T1", NOW.replace(hour=8, minute=5)), ("T1", NOW.replace(hour=10, minute=20)),
              ("T2", NOW.replace(hour=9)), ("T2", NOW.replace(hour=7, minute=59)), ("T2", NOW.replace(hour=11))]
    assert floor.per_hour(events, buckets) == {"T1": [1, 0, 1], "T2": [0, 1, 0]}
    rates = floor.pass_rate([("ST01", True), ("ST01", False), ("ST01", True), ("ST02", False)])
    assert rates == {"ST01": {"checks": 3, "passed": 2, "rate": 0.6667}, "ST02": {"checks": 1, "passed": 0, "rate": 0.0}}
