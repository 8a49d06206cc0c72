"""Station-side tables owned by the sync package (all prefixed ``sync_`` or ``ref_``), as numbered steps.

``STEPS`` is the ``sync`` set of schema steps (``sync.common.migrate``): never edit a step that shipped, add
one. Steps 1 and 2 are the schema as releases made it before the steps were recorded (``IF NOT EXISTS``
scripts run on every start), so a file from such a release is adopted, not rebuilt. ``upgrade`` brings only
these tables up to date (the outbox, the worker, the reference cache and ``packgate sync`` call it); a
station upgrades every set of its file with ``packgate.station.migrations.upgrade``.

The station keeps its own tables in the same database file; nothing here touches them.
"""
from __future__ import annotations

import sqlite3

from packgate.device.clock import Clock
from packgate.sync.common.migrate import Done, Step, StepSet
from packgate.sync.common.migrate import upgrade as upgrade_sets

OUTBOX_STATES = ("pending", "sent", "dead")

TABLES = (
    """CREATE TABLE IF NOT EXISTS sync_outbox (
        station TEXT NOT NULL,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL UNIQUE,
        key TEXT NOT NULL UNIQUE,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL,
        object_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_attempt_at TEXT,
        last_error TEXT,
        sent_at TEXT,
        upstream_status TEXT,
        dead_at TEXT,
        dead_reason TEXT,
        PRIMARY KEY (station, seq)
    )""",
    "CREATE INDEX IF NOT EXISTS sync_outbox_state ON sync_outbox (state, seq)",
    "CREATE INDEX IF NOT EXISTS sync_outbox_object ON sync_outbox (object_type, object_id)",
    "CREATE TABLE IF NOT EXISTS sync_seq (station TEXT PRIMARY KEY, last_seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_meta (k TEXT PRIMARY KEY, v TEXT)",
    """CREATE TABLE IF NOT EXISTS sync_audit (
        at TEXT NOT NULL, who TEXT NOT NULL, what TEXT NOT NULL, confirmation_id TEXT,
        before TEXT, after TEXT)""",
    # reference data mirrored from upstream (never edited locally)
    "CREATE TABLE IF NOT EXISTS ref_skus (sku TEXT PRIMARY KEY, gtin14 TEXT, data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ref_skus_gtin ON ref_skus (gtin14)",
    """CREATE TABLE IF NOT EXISTS ref_lots (sku TEXT NOT NULL, lot TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (sku, lot))""",
    "CREATE INDEX IF NOT EXISTS ref_lots_expires ON ref_lots (json_extract(data, '$.expires'), sku, lot)",
    "CREATE TABLE IF NOT EXISTS ref_packaging (code TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ref_employees (employee_id TEXT PRIMARY KEY, badge_uid TEXT, data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ref_employees_badge ON ref_employees (badge_uid)",
    """CREATE TABLE IF NOT EXISTS ref_orders (order_id TEXT PRIMARY KEY, status TEXT, priority INTEGER,
        data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS ref_orders_status ON ref_orders (status)",
    "CREATE INDEX IF NOT EXISTS ref_orders_queue ON ref_orders (priority DESC, order_id)",
    """CREATE TABLE IF NOT EXISTS ref_rejected (id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
        key TEXT, reason TEXT NOT NULL, data TEXT)""",
    """CREATE TABLE IF NOT EXISTS ref_ambiguous (kind TEXT NOT NULL, key TEXT NOT NULL, reason TEXT NOT NULL,
        at TEXT NOT NULL, PRIMARY KEY (kind, key))""",
    "CREATE INDEX IF NOT EXISTS ref_orders_tote ON ref_orders (json_extract(data, '$.tote'))",
)

# rows per state, kept by triggers: health and every state push read three rows, never count the table
COUNTERS = (
    "CREATE TABLE IF NOT EXISTS sync_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS sync_counts_insert AFTER INSERT ON sync_outbox
        BEGIN UPDATE sync_counts SET n = n + 1 WHERE state = NEW.state; END""",
    """CREATE TRIGGER IF NOT EXISTS sync_counts_update AFTER UPDATE OF state ON sync_outbox
        WHEN OLD.state != NEW.state
        BEGIN UPDATE sync_counts SET n = n - 1 WHERE state = OLD.state;
              UPDATE sync_counts SET n = n + 1 WHERE state = NEW.state; END""",
    """CREATE TRIGGER IF NOT EXISTS sync_counts_delete AFTER DELETE ON sync_outbox
        BEGIN UPDATE sync_counts SET n = n - 1 WHERE state = OLD.state; END""",
    # a file from before the counters: count once, then the triggers keep it
    "INSERT OR REPLACE INTO sync_counts (state, n) SELECT column1, (SELECT COUNT(*) FROM sync_outbox"
    " WHERE state = column1) FROM (VALUES " + ", ".join(f"('{s}')" for s in OUTBOX_STATES) + ")",
)

# the WMS's expected returns (RMAs, ``sync/upstream/returns.py``), mirrored like the rest of the reference data; the
# station's returns desk finds one by its id or its return waybill
RMAS = (
    """CREATE TABLE ref_rmas (rma_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, waybill TEXT, status TEXT,
        data TEXT NOT NULL)""",
    "CREATE INDEX ref_rmas_waybill ON ref_rmas (waybill)",
)

STEPS = StepSet("sync", (
    Step(1, "outbox, sequence, meta, sync audit and the reference mirror", TABLES),
    Step(2, "outbox counters per state", COUNTERS),
    Step(3, "the reference mirror's expected returns (RMAs)", RMAS),
), legacy=2)


def upgrade(conn: sqlite3.Connection, clock: Clock | None = None) -> list[Done]:
    """Bring the sync tables up to date (the sync steps only); a file a newer packgate wrote is refused."""
    return upgrade_sets(conn, (STEPS,), clock)


def outbox_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per outbox state (from the counters, not a count over the table)."""
    counts = {state: 0 for state in OUTBOX_STATES}
    counts.update({row[0]: row[1] for row in conn.execute("SELECT state, n FROM sync_counts")})
    return counts


def get_meta(conn: sqlite3.Connection, prefix: str = "") -> dict[str, str]:
    rows = conn.execute("SELECT k, v FROM sync_meta WHERE k >= ? AND k < ?", (prefix, prefix + "\uffff"))
    return {row[0]: row[1] for row in rows}


def set_meta(conn: sqlite3.Connection, **values: object) -> None:
    """Upsert meta keys (``a__b`` becomes ``a.b``); call inside a write transaction."""
    for key, value in values.items():
        conn.execute("INSERT INTO sync_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                     (key.replace("__", "."), None if value is None else str(value)))
