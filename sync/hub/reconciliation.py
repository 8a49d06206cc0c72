"""The daily reconciliation of the hub with the WMS: for each station (and the hub's own code) and one hub-local
day, the confirmation ids the hub holds against the ids the WMS lists (``GET /v1/confirmations?station=&since=
&until=``, by the confirmation's own time), with the difference list.

A difference is an id on one side only: ``hub_only`` (with the hub's relay state: ``pending`` not yet relayed,
``dead`` refused by the WMS, ``sent`` relayed and lost upstream) or ``wms_only`` (the WMS has it, the hub never
received it: a station that posted around the hub, or a hub database restored from an old backup). The result is kept
per day in ``hub_reconciliations`` (the report shows it; the ``reconciliation`` alert rule fires on differences).
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from packgate.device.clock import isoformat
from packgate.sync.client import UpstreamClient
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn, Database


def day_window(day: date, tz: Any) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, start + timedelta(days=1)


def run(db: Database, client: UpstreamClient, day: date, stations: list[str], now: datetime,
        *, replace: bool = True) -> dict[str, Any]:
    """Reconcile ``day`` (hub-local: the timezone of ``now``) for ``stations``; keeps and returns the result.
    ``replace=False``: a result another hub (or an earlier run) kept for the day stands."""
    since, until = day_window(day, now.tzinfo)
    differences: list[dict[str, Any]] = []
    per_station: dict[str, dict[str, int]] = {}
    for station in stations:
        wms_ids = set(client.reconcile(station, since, until))
        with db.read() as conn:
            hub_rows = {row["id"]: row["relay_state"] for row in conn.execute(
                "SELECT id, relay_state FROM hub_confirmations WHERE station = ? AND at_utc >= ? AND at_utc < ?",
                (station, store.utc(since), store.utc(until)))}
        only_hub = sorted(set(hub_rows) - wms_ids)
        only_wms = sorted(wms_ids - set(hub_rows))
        differences += [{"station": station, "id": i, "side": "hub_only", "relay_state": hub_rows[i]} for i in only_hub]
        differences += [{"station": station, "id": i, "side": "wms_only", "relay_state": None} for i in only_wms]
        per_station[station] = {"hub": len(hub_rows), "wms": len(wms_ids), "matched": len(set(hub_rows) & wms_ids),
                                "hub_only": len(only_hub), "wms_only": len(only_wms)}
    result = {"day": day.isoformat(), "ran_at": isoformat(now), "since": isoformat(since), "until": isoformat(until),
              "stations": per_station, "differences": differences}

    def keep(conn: Conn) -> None:
        conflict = ("DO UPDATE SET ran_at = excluded.ran_at, differences = excluded.differences,"
                    " result = excluded.result") if replace else "DO NOTHING"
        conn.execute(f"INSERT INTO hub_reconciliations (day, ran_at, differences, result) VALUES (?, ?, ?, ?)"
                     f" ON CONFLICT (day) {conflict}", (day.isoformat(), isoformat(now), len(differences),
                                                        json.dumps(result)))

    db.run(keep)
    return result


def kept(conn: Conn, day: date) -> dict[str, Any] | None:
    value = conn.value("SELECT result FROM hub_reconciliations WHERE day = ?", (day.isoformat(),))
    return json.loads(value) if value else None
