"""Station-side reconciliation: compare what we believe upstream has with what upstream reports."""
from __future__ import annotations

import sqlite3
from datetime import datetime

from packgate.device.clock import parse_iso
from packgate.sync.client import UpstreamClient


def reconcile(conn: sqlite3.Connection, client: UpstreamClient, station: str, since: datetime,
              until: datetime) -> dict:
    """``{"sent_missing_upstream": [...], "upstream_not_sent_locally": [...], "matched": n}`` for
    confirmations created in ``[since, until)``. The first list should always be empty; the second
    holds rows upstream applied whose answer we never recorded (they will be resent and answered
    "duplicate")."""
    upstream_ids = set(client.reconcile(station, since, until))
    local = {}
    for row in conn.execute("SELECT id, state, created_at FROM sync_outbox WHERE station = ?", (station,)):
        if since <= parse_iso(row["created_at"]) < until:
            local[row["id"]] = row["state"]
    sent = {i for i, state in local.items() if state == "sent"}
    return {"sent_missing_upstream": sorted(sent - upstream_ids),
            "upstream_not_sent_locally": sorted(upstream_ids - sent),
            "matched": len(sent & upstream_ids)}
