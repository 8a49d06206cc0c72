"""The floor's figures as the dashboard shows them, computed from plain values (no I/O, no clock of its own): an
order's stage on the dashboard (the backlog nobody started included), its age and SLA colour, its timeline (a bar per
stage from released to shipped), per-stage average and p90 durations, parcels per hour, pass rates, the shift's
start and durations in words ("12 min", "1 h 05 min").

Stages of an open order, in floor order: ``backlog`` (released by the WMS, nobody started: the hub's ``open``),
``picking``, ``picked``, ``packing``, ``weighed``, ``blocked`` and ``packed`` (not yet handed over at the dock).
An order leaves the dashboard's open list when it is shipped (handed over) or cancelled.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Iterable, Mapping, Sequence

from packgate.device.clock import parse_iso

OPEN_STAGES = ("backlog", "picking", "picked", "packing", "weighed", "blocked", "packed")
#: the milestones of an order's timeline, in the order they are reached; "released" is the WMS's release
TIMELINE = ("released", "picking", "picked", "packing", "weighed", "blocked", "packed", "shipped", "cancelled")
ENDS = ("shipped", "cancelled")  # a mark at the end of the timeline, not a stage that lasts
#: stage -> (amber after, red after), minutes in the stage; configurable per site (``dashboard.sla``)
DEFAULT_SLA: dict[str, list[float]] = {
    "backlog": [30.0, 120.0], "picking": [10.0, 20.0], "picked": [8.0, 12.0], "packing": [6.0, 12.0],
    "weighed": [3.0, 8.0], "blocked": [5.0, 15.0], "packed": [60.0, 120.0]}
COLOURS = ("green", "amber", "red")


def dashboard_stage(hub_stage: str) -> str:
    """The hub's ``open`` is the dashboard's backlog; the other stages keep their names."""
    return "backlog" if hub_stage == "open" else hub_stage


def sla_colour(stage: str, age_s: float, sla: Mapping[str, Sequence[float]]) -> str:
    """``green`` below the stage's amber threshold, ``amber`` below its red one, ``red`` from there on."""
    amber, red = sla.get(stage, (math.inf, math.inf))
    minutes = age_s / 60
    return "red" if minutes >= red else "amber" if minutes >= amber else "green"


def sla_problem(value: Mapping[str, Any]) -> str | None:
    """Why a ``dashboard.sla`` table is not usable (None when it is): known stages, ``[amber, red]`` minutes."""
    for stage, pair in value.items():
        if stage not in OPEN_STAGES:
            return f"unknown stage {stage!r}; one of {', '.join(OPEN_STAGES)}"
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in pair)):
            return f"{stage}: must be [amber, red] minutes, both greater than 0 (got {pair!r})"
        if pair[1] < pair[0]:
            return f"{stage}: the red threshold ({pair[1]}) comes before the amber one ({pair[0]})"
    return None


@dataclass(frozen=True)
class Units:
    """The words of a duration in the reader's language: ``{n} h``, ``{n} min``, ``{n} s``."""
    hours: str = "{n} h"
    minutes: str = "{n} min"
    seconds: str = "{n} s"


ENGLISH = Units()


def human_duration(seconds: float, units: Units = ENGLISH) -> str:
    """``45 s``, ``12 min``, ``1 h 05 min``, ``26 h 00 min`` (rounded down to the unit shown; negative as 0)."""
    whole = max(0, int(seconds))
    if whole < 60:
        return units.seconds.format(n=whole)
    if whole < 3600:
        return units.minutes.format(n=whole // 60)
    return f"{units.hours.format(n=whole // 3600)} {units.minutes.format(n=f'{whole % 3600 // 60:02d}')}"


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` 0.9 for p90); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, Any]:
    """``{"n", "avg_s", "p90_s"}`` of durations in seconds (None figures without any)."""
    if not values:
        return {"n": 0, "avg_s": None, "p90_s": None}
    return {"n": len(values), "avg_s": round(sum(values) / len(values), 1), "p90_s": round(percentile(values, 0.9) or 0, 1)}


def timeline(released_at: str | None, milestones: Mapping[str, Any], now: datetime,
             current_stage: str | None = None) -> list[dict[str, Any]]:
    """A bar per stage the order went through: ``stage``, ``start``, ``end`` (None while it is there) and
    ``seconds``, in time order from the WMS's release (left out when the WMS's time comes after the floor's first
    step). A stage lasts from its milestone to the next one reached; the order's current stage (not shipped or
    cancelled) lasts until ``now``."""
    reached: list[tuple[datetime, str]] = []
    for stage in TIMELINE[1:]:
        at = milestones.get(stage)
        if isinstance(at, str):
            reached.append((parse_iso(at), stage))
    released = parse_iso(released_at) if released_at else None
    if released is not None and all(released <= at for at, _ in reached):
        reached.append((released, "released"))  # a WMS row stamped after the floor started it: release unknown
    reached.sort(key=lambda pair: (pair[0], TIMELINE.index(pair[1])))
    bars = []
    for i, (start, stage) in enumerate(reached):
        if stage in ENDS:
            bars.append({"stage": stage, "start": start, "end": None, "seconds": 0.0})
            continue
        end = reached[i + 1][0] if i + 1 < len(reached) else None
        shown = "backlog" if stage == "released" else stage
        if end is None and current_stage in ("cancelled", "shipped"):
            continue
        upto = end or now
        bars.append({"stage": shown, "start": start, "end": end, "seconds": max(0.0, (upto - start).total_seconds())})
    return bars


def stage_durations(orders: Iterable[tuple[str | None, Mapping[str, Any]]], since: datetime,
                    now: datetime) -> dict[str, list[float]]:
    """Seconds each finished stage lasted, for stages that ended in ``[since, now]``: ``orders`` are
    ``(released_at, milestones)``."""
    out: dict[str, list[float]] = {stage: [] for stage in OPEN_STAGES}
    for released_at, milestones in orders:
        for bar in timeline(released_at, milestones, now):
            end = bar["end"]
            if end is not None and since <= end <= now and bar["stage"] in out:
                out[bar["stage"]].append(bar["seconds"])
    return out


def shift_start(now: datetime, starts: Sequence[str]) -> datetime:
    """The latest shift start (``"06:00"`` local times of ``now``'s zone) at or before ``now``; midnight without
    any."""
    times = sorted(time.fromisoformat(s) for s in starts) or [time(0, 0)]
    candidates = [datetime.combine(now.date() - timedelta(days=back), t, now.tzinfo) for back in (1, 0) for t in times]
    return max(c for c in candidates if c <= now)


def shift_problem(value: Sequence[Any]) -> str | None:
    """Why a ``dashboard.shifts`` list is not usable (None when it is)."""
    for s in value:
        usable = isinstance(s, str) and len(s) == 5
        try:
            usable = usable and time.fromisoformat(s) is not None
        except ValueError:
            usable = False
        if not usable:
            return f"every shift start must be a local time HH:MM such as \"06:00\" (got {s!r})"
    return None


def hour_buckets(now: datetime, hours: int) -> list[datetime]:
    """The starts of the last ``hours`` whole hours up to ``now`` (local time of ``now``), oldest first."""
    top = now.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=h) for h in range(hours - 1, -1, -1)]


def per_hour(events: Iterable[tuple[str, datetime]], buckets: Sequence[datetime]) -> dict[str, list[int]]:
    """``(who, at)`` events counted per ``who`` in each hour of ``buckets``."""
    out: dict[str, list[int]] = {}
    if not buckets:
        return out
    end = buckets[-1] + timedelta(hours=1)
    for who, at in events:
        if buckets[0] <= at < end:
            index = int((at - buckets[0]).total_seconds() // 3600)
            out.setdefault(who, [0] * len(buckets))[index] += 1
    return out


def pass_rate(results: Iterable[tuple[str, bool]]) -> dict[str, dict[str, Any]]:
    """Per station: ``checks`` (weighings), ``passed`` and ``rate`` (0..1), from ``(station, passed)``."""
    out: dict[str, dict[str, Any]] = {}
    for station, passed in results:
        row = out.setdefault(station, {"checks": 0, "passed": 0})
        row["checks"] += 1
        row["passed"] += int(passed)
    for row in out.values():
        row["rate"] = round(row["passed"] / row["checks"], 4)
    return out
