"""The site's alert rules (``[[alerts.rules]]`` in site.toml): what each kind watches and when it fires.

A rule is a small table: ``kind`` and its thresholds (and an optional ``name``, else one is made from them, e.g.
``stuck.packing.15``). ``parse`` checks a list of them with a message naming the rule and the problem;
``findings`` reads the database once per pass and answers what is over its threshold now, each as a ``Finding``
keyed ``(rule, subject)``: the alert engine (``alerts.py``) sends each once.

Kinds (the subject that keys one alert in brackets):

* ``stuck``: an order in ``stage`` longer than ``minutes`` (the order and stage); stages are the floor's words
  ``packing``, ``blocked``, ``label_waiting`` (weighed, label not yet printed), ``not_handed_over`` (packed, not
  handed over at the dock), ``picking``, ``picked``.
* ``queue``: ``queue`` (``blocked`` parcels, ``backlog`` of released orders nobody started, ``returns`` announced by
  the WMS and not yet received at a table, ``intercepted`` — orders the WMS held or cancelled after their goods left
  the shelf) over ``over`` for ``minutes`` (the queue and when it went over: one alert per episode).
* ``volume``: parcels packed in the last full hour outside ``min`` .. ``max`` (the hour).
* ``sync_failures``: relay dead letters received today plus the stations' outbox dead letters over ``over`` (the day).
* ``station_offline``: a station silent longer than ``minutes`` (the station and its last heartbeat).
* ``clock``: a station's clock off the hub's by more than ``seconds`` (the station and the day).
* ``channel``: a notification channel failing (the channel and since when); sent through the other channels.
* ``reconciliation``: the daily reconciliation with the WMS found differences (the day).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn

STAGES = {"packing": "packing", "blocked": "blocked", "label_waiting": "weighed", "not_handed_over": "packed",
          "picking": "picking", "picked": "picked"}
QUEUES = ("blocked", "backlog", "returns", "intercepted")
# kind: {field: (type, required, lowest)}
FIELDS: dict[str, dict[str, tuple[type, bool, float]]] = {
    "stuck": {"stage": (str, True, 0), "minutes": (float, True, 0.01)},
    "queue": {"queue": (str, True, 0), "over": (int, True, 0), "minutes": (float, False, 0)},
    "volume": {"min": (int, False, 0), "max": (int, False, 0)},
    "sync_failures": {"over": (int, True, 0)},
    "station_offline": {"minutes": (float, True, 0.01)},
    "clock": {"seconds": (float, True, 0.01)},
    "channel": {},
    "reconciliation": {},
}
DEFAULT_RULES: list[dict[str, Any]] = [
    {"kind": "stuck", "stage": "packing", "minutes": 15}, {"kind": "stuck", "stage": "blocked", "minutes": 20},
    {"kind": "stuck", "stage": "label_waiting", "minutes": 10},
    {"kind": "stuck", "stage": "not_handed_over", "minutes": 120},
    {"kind": "queue", "queue": "blocked", "over": 50, "minutes": 180},
    {"kind": "sync_failures", "over": 5}, {"kind": "station_offline", "minutes": 2}, {"kind": "clock", "seconds": 10},
    {"kind": "channel"}, {"kind": "reconciliation"},
]
LIST_LIMIT = 500  # subjects one rule names per pass (a flood is one page of alerts, the rest next pass)


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    params: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


@dataclass(frozen=True)
class Finding:
    rule: str
    kind: str
    subject: str
    title: str
    body: str
    detail: dict[str, Any]
    skip: tuple[int, ...] = ()
    hold_min: float = 0.0  # fire only once it has been true this long (a queue over its limit)


def _name(kind: str, params: dict[str, Any]) -> str:
    parts = [kind] + [str(params[k]) if not isinstance(params[k], float) else f"{params[k]:g}"
                      for k in FIELDS[kind] if params.get(k) is not None]
    return ".".join(parts)


def parse(rules: Any) -> list[Rule]:
    """The rules of ``alerts.rules``; ValueError names the rule (by number) and what is wrong with it."""
    if not isinstance(rules, list):
        raise ValueError("must be a list of rules ([[alerts.rules]] tables)")
    out: list[Rule] = []
    for number, raw in enumerate(rules, 1):
        where = f"rule {number}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: must be a table with kind = …")
        kind = raw.get("kind")
        if kind not in FIELDS:
            raise ValueError(f"{where}: kind must be one of {', '.join(FIELDS)} (got {kind!r})")
        spec = FIELDS[kind]
        unknown = sorted(set(raw) - set(spec) - {"kind", "name"})
        if unknown:
            raise ValueError(f"{where} ({kind}): unknown field {unknown[0]!r} (it takes {', '.join(spec) or 'none'})")
        params: dict[str, Any] = {}
        for field, (typ, required, lowest) in spec.items():
            value = raw.get(field)
            if value is None:
                if required:
                    raise ValueError(f"{where} ({kind}): {field} is required")
                continue
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, typ):
                raise ValueError(f"{where} ({kind}): {field} must be {'a number' if typ is not str else 'a word'}"
                                 f" (got {value!r})")
            if isinstance(value, (int, float)) and value < lowest:
                raise ValueError(f"{where} ({kind}): {field} must be at least {lowest:g} (got {value})")
            params[field] = value
        if kind == "stuck" and params["stage"] not in STAGES:
            raise ValueError(f"{where} (stuck): stage must be one of {', '.join(STAGES)} (got {params['stage']!r})")
        if kind == "queue" and params["queue"] not in QUEUES:
            raise ValueError(f"{where} (queue): queue must be one of {', '.join(QUEUES)} (got {params['queue']!r})")
        if kind == "volume" and "min" not in params and "max" not in params:
            raise ValueError(f"{where} (volume): give min, max or both (parcels packed per hour)")
        if kind == "volume" and params.get("max", 10**9) < params.get("min", 0):
            raise ValueError(f"{where} (volume): max must be at least min")
        name = raw.get("name", _name(kind, params))
        if not isinstance(name, str) or not name or len(name) > 60 or "/" in name:
            raise ValueError(f"{where}: name must be 1-60 characters without '/' (got {name!r})")
        if any(rule.name == name for rule in out):
            raise ValueError(f"{where}: the name {name!r} is used by another rule; give one of them a name")
        out.append(Rule(name, kind, params))
    return out


# ---- what is over its threshold now ------------------------------------------------------------------------
@dataclass
class Context:
    """What a pass knows besides the database: the hub's time and site, the channels' state."""
    now: datetime
    station_name: Any
    channels: list[dict[str, Any]]


def findings(conn: Conn, rules: list[Rule], ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for rule in rules:
        out += KIND_CHECKS[rule.kind](conn, rule, ctx) if rule.kind in KIND_CHECKS else []
    return out


def _minutes(since: datetime, now: datetime) -> int:
    return int((now - since).total_seconds() // 60)


def _stuck(conn: Conn, rule: Rule, ctx: Context) -> list[Finding]:
    stage, word = STAGES[rule["stage"]], rule["stage"]
    before = ctx.now - timedelta(minutes=rule["minutes"])
    rows = conn.execute("SELECT order_id, station, operator, stage_since FROM hub_orders WHERE stage = ?"
                        " ORDER BY stage_since LIMIT ?", (stage, LIST_LIMIT * 4))
    out = []
    for row in rows:
        since = parse_iso(row["stage_since"])
        if since > before:
            break
        table = ctx.station_name(row["station"]) if row["station"] else "?"
        minutes = _minutes(since, ctx.now)
        out.append(Finding(rule.name, rule.kind, f"{row['order_id']}:{word}",
                           f"packgate: {row['order_id']} {word.replace('_', ' ')} for {minutes} min",
                           f"{row['order_id']} has been {word.replace('_', ' ')} since {row['stage_since']}"
                           f" ({minutes} min, the limit is {rule['minutes']:g}) at {table}.",
                           {"order_id": row["order_id"], "stage": word, "since": row["stage_since"],
                            "minutes": minutes, "station": row["station"], "table": table,
                            "operator": row["operator"]}))
        if len(out) >= LIST_LIMIT:
            break
    return out


def queue_size(conn: Conn, queue: str) -> int:
    if queue == "blocked":
        return int(conn.value("SELECT COUNT(*) FROM hub_orders WHERE stage = 'blocked'") or 0)
    if queue == "returns":  # announced by the WMS, not yet received at a table (as the returns panel counts them)
        received = {row["rma_id"] for row in conn.execute("SELECT rma_id FROM hub_returns")}
        return sum(1 for rma in store.ref_all(conn, "rmas") if isinstance(rma.get("rma_id"), str)
                   and rma["rma_id"] not in received and rma.get("status") not in ("refunded", "review"))
    if queue == "intercepted":
        return int(conn.value("SELECT COUNT(*) FROM hub_orders WHERE wms_status IN ('held', 'cancelled')"
                              " AND stage NOT IN ('open', 'shipped', 'cancelled')") or 0)
    return len(backlog(conn))


def backlog(conn: Conn) -> list[dict[str, Any]]:
    """Orders the WMS released that nobody on the floor has started (no pick, no table), as the reference pull
    keeps them."""
    started = {row["order_id"] for row in conn.execute("SELECT order_id FROM hub_orders WHERE stage != 'open'")}
    out = []
    for order in store.ref_all(conn, "orders"):
        status = str(order.get("status") or "open")
        if order.get("order_id") in started or status not in ("open", "released", "paid"):
            continue
        out.append(order)
    return out


def _queue(conn: Conn, rule: Rule, ctx: Context) -> list[Finding]:
    size = queue_size(conn, rule["queue"])
    if size <= rule["over"]:
        return []
    return [Finding(rule.name, rule.kind, rule["queue"], f"packgate: {size} {rule['queue']} (over {rule['over']})",
                    f"The {rule['queue']} queue holds {size}, over {rule['over']} for"
                    f" {rule.params.get('minutes', 0):g} min.", {"queue": rule["queue"], "size": size,
                                                                 "over": rule["over"]},
                    hold_min=float(rule.params.get("minutes", 0.0)))]


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _volume(conn: Conn, rule: Rule, ctx: Context) -> list[Finding]:
    end = hour_start(ctx.now)
    start = end - timedelta(hours=1)
    packed = int(conn.value("SELECT COUNT(*) FROM hub_confirmations WHERE action = 'pack' AND received_utc >= ?"
                            " AND received_utc < ?", (store.utc(start), store.utc(end))) or 0)
    low, high = rule.params.get("min"), rule.params.get("max")
    if (low is None or packed >= low) and (high is None or packed <= high):
        return []
    hour = f"{start:%Y-%m-%dT%H}"
    band = f"{low if low is not None else 0}..{high if high is not None else '∞'}"
    return [Finding(rule.name, rule.kind, hour, f"packgate: {packed} parcels packed {start:%H}:00-{end:%H}:00",
                    f"{packed} parcels were packed from {start:%H:%M} to {end:%H:%M}, outside {band} per hour.",
                    {"hour": isoformat(start), "packed": packed, "min": low, "max": high})]


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def sync_failures(conn: Conn, now: datetime) -> dict[str, int]:
    """Today's sync failures: dead letters of the relay received today, and the stations' outbox dead letters."""
    relay = int(conn.value("SELECT COUNT(*) FROM hub_confirmations WHERE relay_state = 'dead' AND received_utc >= ?",
                           (store.utc(day_start(now)),)) or 0)
    stations = int(conn.value("SELECT SUM(outbox_dead) FROM hub_stations") or 0)
    return {"relay_dead": relay, "stations_dead": stations, "total": relay + stations}


def _sync_failures(conn: Conn, rule: Rule, ctx: Context) -> list[Finding]:
    counts = sync_failures(conn, ctx.now)
    if counts["total"] <= rule["over"]:
        return []
    return [Finding(rule.name, rule.kind, f"{ctx.now:%Y-%m-%d}", f"packgate: {counts['total']} sync failures today",
                    f"{counts['relay_dead']} confirmation(s) refused by the WMS and {counts['stations_dead']} given up"
                    f" by stations' outboxes today (limit {rule['over']}). See /healthz and the dead letters.",
                    counts)]


def _stations(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute("SELECT station, last_seen_at, last_seen_utc, clock_offset_s FROM hub_stations"
                        " ORDER BY station")


def _offline(conn: Conn, rule: Rule, ctx: Context) -> list[Finding]:
    out = []
    for row in _stations(conn):
        seen = parse_iso(row["last_seen_at"])
        if (ctx.now - seen).total_seconds() <= rule["minutes"] * 60:
            continue
        table = ctx.station_name(row["station"])
        out.append(Finding(rule.name, rule.kind, f"{row['station']}@{row['last_seen_utc']}",
                           f"packgate: {table} offline", f"{table} ({row['station']}) has sent no heartbeat since"
                           f" {row['last_seen_at']} ({_minutes(seen, ctx.now)} min).",
                           {"station": row["station"], "table": table, "last_seen_at": row["last_seen_at"]}))
    return out


def _clock(conn: Conn, rule: Rule, ctx: Context) -> list[Finding]:
    out = []
    for row in _stations(conn):
        offset = row["clock_offset_s"]
        if offset is None or abs(float(offset)) <= rule["seconds"]:
            continue
        table = ctx.station_name(row["station"])
        out.append(Finding(rule.name, rule.kind, f"{row['station']}@{ctx.now:%Y-%m-%d}",
                           f"packgate: {table}'s clock is off by {float(offset):+.0f} s",
                           f"{table} ({row['station']})'s clock differs from the hub's by {float(offset):+.1f} s"
                           f" (limit {rule['seconds']:g} s): fix its time (NTP).",
                           {"station": row["station"], "table": table, "offset_s": float(offset)}))
    return out


def _channel(conn: Conn, rule: Rule, ctx: Context) -> list[Finding]:
    out = []
    for channel in ctx.channels:
        if channel["usable"] and not channel["failing_since"]:
            continue
        since = channel["failing_since"] or "start"
        purpose = channel.get("for", "alerts")
        out.append(Finding(rule.name, rule.kind, f"{purpose}:{channel['channel']}@{since}",
                           f"packgate: notification channel {channel['channel']} ({purpose}) failing",
                           f"Notification channel {channel['channel']} of the {purpose} ({channel['url']}) fails"
                           f" since {since}: {channel['last_error']}", {**channel},
                           skip=(int(channel["channel"]),) if channel.get("alerts", True) else ()))
    return out


def _reconciliation(conn: Conn, rule: Rule, ctx: Context) -> list[Finding]:
    rows = conn.execute("SELECT day, differences, result FROM hub_reconciliations WHERE differences > 0"
                        " ORDER BY day DESC LIMIT 7")
    out = []
    for row in rows:
        result = json.loads(row["result"])
        lines = [f"{d['station']}: {d['id']} ({d['side']})" for d in result.get("differences", [])[:20]]
        out.append(Finding(rule.name, rule.kind, row["day"],
                           f"packgate: reconciliation {row['day']}: {row['differences']} difference(s) with the WMS",
                           f"The hub and the WMS differ on {row['differences']} confirmation(s) of {row['day']}:\n"
                           + "\n".join(lines), {"day": row["day"], "differences": int(row["differences"])}))
    return out


KIND_CHECKS = {"stuck": _stuck, "queue": _queue, "volume": _volume, "sync_failures": _sync_failures,
               "station_offline": _offline, "clock": _clock, "channel": _channel, "reconciliation": _reconciliation}
