"""Versioned schema migrations: numbered scripts, applied in order at start, recorded in one table.

One table with numbered scripts (not Alembic): the hub has no ORM and a dozen tables, and the
scripts are plain SQL that both engines run; ``{pk}`` is the dialect's auto-numbered key.
Each script runs in the same transaction as the row that records it.
"""
from __future__ import annotations

from packgate.device.clock import Clock, isoformat
from packgate.sync.hub.engine import Database

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "site order flow, relay queue, claims, feed, escalations", (
        "CREATE TABLE hub_counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)",
        "INSERT INTO hub_counters (name, n) VALUES ('feed', 0), ('ref', 0)",
        "CREATE TABLE hub_meta (k TEXT PRIMARY KEY, v TEXT)",
        """CREATE TABLE hub_confirmations (
            n {pk}, id TEXT NOT NULL UNIQUE, station TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
            seq BIGINT NOT NULL, action TEXT NOT NULL, object_type TEXT NOT NULL, object_id TEXT NOT NULL,
            operator TEXT, at TEXT NOT NULL, at_utc TEXT NOT NULL, received_at TEXT NOT NULL,
            received_utc TEXT NOT NULL, body TEXT NOT NULL,
            relay_state TEXT NOT NULL DEFAULT 'pending' CHECK (relay_state IN ('pending', 'sent', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, last_error TEXT, sent_at TEXT,
            upstream_status TEXT, UNIQUE (station, key))""",
        "CREATE INDEX hub_conf_relay ON hub_confirmations (relay_state, next_attempt_at, n)",
        "CREATE INDEX hub_conf_station ON hub_confirmations (station, relay_state, seq)",
        "CREATE INDEX hub_conf_object ON hub_confirmations (object_type, object_id)",
        """CREATE TABLE hub_orders (
            order_id TEXT PRIMARY KEY, stage TEXT NOT NULL, stage_since TEXT NOT NULL, station TEXT,
            operator TEXT, priority INTEGER NOT NULL DEFAULT 0, priority_released INTEGER NOT NULL DEFAULT 0,
            milestones TEXT NOT NULL DEFAULT '{}', packed_by TEXT, updated_at TEXT NOT NULL)""",
        "CREATE INDEX hub_orders_stage ON hub_orders (stage)",
        """CREATE TABLE hub_claims (
            order_id TEXT PRIMARY KEY, station TEXT NOT NULL, operator TEXT, claimed_at TEXT NOT NULL,
            renewed_at TEXT NOT NULL, expires_utc TEXT NOT NULL)""",
        """CREATE TABLE hub_stations (
            station TEXT PRIMARY KEY, operator TEXT, order_id TEXT, state TEXT, devices TEXT NOT NULL DEFAULT '{}',
            outbox_depth INTEGER, last_seen_at TEXT NOT NULL, last_seen_utc TEXT NOT NULL)""",
        """CREATE TABLE hub_feed (seq BIGINT PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
            subject TEXT NOT NULL, data TEXT NOT NULL)""",
        """CREATE TABLE hub_escalations (
            order_id TEXT NOT NULL, level INTEGER NOT NULL, due_utc TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'void')),
            attempts INTEGER NOT NULL DEFAULT 0, claimed_at TEXT, sent_at TEXT, last_error TEXT,
            acked_by TEXT, acked_at TEXT, PRIMARY KEY (order_id, level))""",
        "CREATE INDEX hub_esc_due ON hub_escalations (state, due_utc)",
        """CREATE TABLE hub_lot_taken (sku TEXT NOT NULL, lot TEXT NOT NULL, taken BIGINT NOT NULL,
            PRIMARY KEY (sku, lot))""",
        """CREATE TABLE hub_conflicts (n {pk}, at TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
            detail TEXT NOT NULL, resolved_by TEXT, resolved_at TEXT)""",
        """CREATE TABLE hub_audit (n {pk}, at TEXT NOT NULL, who TEXT NOT NULL, what TEXT NOT NULL,
            subject TEXT, before TEXT, after TEXT)""",
        """CREATE TABLE hub_ref (kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, version BIGINT NOT NULL,
            PRIMARY KEY (kind, key))""",
        "CREATE INDEX hub_ref_version ON hub_ref (version)",
        """CREATE TABLE hub_sessions (token TEXT PRIMARY KEY, employee_id TEXT NOT NULL, csrf TEXT NOT NULL,
            created_at TEXT NOT NULL, expires_utc TEXT NOT NULL)""",
        "CREATE TABLE hub_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until_utc TEXT NOT NULL)",
    )),
    (2, "the site's parcels and their dock batches, supervisors' claim releases, the hub's own confirmations", (
        """CREATE TABLE hub_parcels (
            order_id TEXT PRIMARY KEY, waybill TEXT, station TEXT NOT NULL, operator TEXT, packed_at TEXT NOT NULL,
            batch_id TEXT, batch_station TEXT, held_at TEXT, held_by TEXT, shipped_at TEXT)""",
        "CREATE TABLE hub_waybills (waybill TEXT PRIMARY KEY, order_id TEXT NOT NULL)",
        "CREATE INDEX hub_parcels_batch ON hub_parcels (batch_id)",
        """CREATE TABLE hub_releases (order_id TEXT PRIMARY KEY, station TEXT NOT NULL, by_who TEXT NOT NULL,
            reason TEXT NOT NULL, at TEXT NOT NULL)""",
        "INSERT INTO hub_counters (name, n) VALUES ('own_seq', 0)",
    )),
    (3, "the WMS's status of each order beside its floor stage (interception)", (
        "ALTER TABLE hub_orders ADD COLUMN wms_status TEXT",
        "ALTER TABLE hub_orders ADD COLUMN wms_reason TEXT",
        "ALTER TABLE hub_orders ADD COLUMN wms_at TEXT",
        "ALTER TABLE hub_orders ADD COLUMN wms_revision INTEGER",
        "CREATE INDEX hub_orders_wms ON hub_orders (wms_status)",
    )),
    (4, "station clock offsets; sign-in failures per employee; session ids kept as hashes", (
        "ALTER TABLE hub_stations ADD COLUMN clock_offset_s DOUBLE PRECISION",
        """CREATE TABLE hub_signin_failures (target TEXT PRIMARY KEY, failures INTEGER NOT NULL,
            first_utc TEXT NOT NULL, locked_until_utc TEXT)""",
        "DELETE FROM hub_sessions",  # their ids were kept in clear: every supervisor signs in again once
    )),
    (5, "returns processed at the tables (逆向物流, sync/hub/returns.py)", (
        """CREATE TABLE hub_returns (
            rma_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, reason TEXT, station TEXT NOT NULL, operator TEXT,
            state TEXT NOT NULL CHECK (state IN ('in_progress', 'closed')), received_at TEXT NOT NULL,
            closed_at TEXT, outcome TEXT, grades TEXT NOT NULL DEFAULT '{}', units INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX hub_returns_state ON hub_returns (state)",
    )),
    (6, "site policies: order reviews, carrier switches, stock alerts for the shift lead (sync/hub/policies.py)", (
        """CREATE TABLE hub_reviews (order_id TEXT PRIMARY KEY, station TEXT NOT NULL, rules TEXT NOT NULL,
            opened_at TEXT NOT NULL, decision TEXT, decided_by TEXT, decided_at TEXT, reason TEXT, via TEXT)""",
        """CREATE TABLE hub_carrier_switches (order_id TEXT PRIMARY KEY, booked TEXT NOT NULL, carrier TEXT NOT NULL,
            why TEXT NOT NULL, station TEXT NOT NULL, at TEXT NOT NULL)""",
        """CREATE TABLE hub_stock_alerts (id {pk}, station TEXT NOT NULL, kind TEXT NOT NULL, sku TEXT, detail TEXT NOT NULL,
            at TEXT NOT NULL, notified_at TEXT, notify_error TEXT)""",
    )),
    (7, "events queued for the site's subscribers (webhooks), one row per subscriber and event", (
        """CREATE TABLE hub_deliveries (
            n {pk}, subscriber TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, last_error TEXT, sent_at TEXT,
            created_at TEXT NOT NULL, UNIQUE (subscriber, event_id))""",
        "CREATE INDEX hub_deliveries_queue ON hub_deliveries (subscriber, state, n)",
        "CREATE INDEX hub_deliveries_subject ON hub_deliveries (subject)",
    )),
    (8, "alert rules, scheduled reports and the daily reconciliation with the WMS; channels an escalation reached", (
        "ALTER TABLE hub_escalations ADD COLUMN channels INTEGER",
        "ALTER TABLE hub_stations ADD COLUMN outbox_dead INTEGER",
        """CREATE TABLE hub_alerts (
            rule TEXT NOT NULL, subject TEXT NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
            detail TEXT NOT NULL, skip TEXT NOT NULL DEFAULT '', raised_at TEXT NOT NULL, due_utc TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent')),
            attempts INTEGER NOT NULL DEFAULT 0, claimed_at TEXT, sent_at TEXT, channels INTEGER, last_error TEXT,
            acked_by TEXT, acked_at TEXT, PRIMARY KEY (rule, subject))""",
        "CREATE INDEX hub_alerts_due ON hub_alerts (state, due_utc)",
        "CREATE TABLE hub_alert_watch (rule TEXT NOT NULL, subject TEXT NOT NULL, since_utc TEXT NOT NULL,"
        " PRIMARY KEY (rule, subject))",
        "CREATE TABLE hub_reconciliations (day TEXT PRIMARY KEY, ran_at TEXT NOT NULL, differences INTEGER NOT NULL,"
        " result TEXT NOT NULL)",
    )),
    (9, "the software version each station reports in its heartbeat (the dashboard's stations)", (
        "ALTER TABLE hub_stations ADD COLUMN software_version TEXT",
    )),
    (10, "the site's learned weights: each table's figures and review, the supervisors' weight decisions", (
        "CREATE TABLE hub_weight_figures (station TEXT PRIMARY KEY, body TEXT NOT NULL, review TEXT NOT NULL,"
        " at TEXT NOT NULL)",
        """CREATE TABLE hub_weight_decisions (n {pk}, sku TEXT NOT NULL, action TEXT NOT NULL
            CHECK (action IN ('accept', 'reset')), station TEXT NOT NULL, body TEXT NOT NULL, at TEXT NOT NULL)""",
        "CREATE INDEX hub_weight_decisions_sku ON hub_weight_decisions (sku, n)",
        "INSERT INTO hub_counters (name, n) VALUES ('weights', 0)",
    )),
    (11, "escalations paused while the WMS holds their order (the hub's time the hold began)", (
        "ALTER TABLE hub_escalations ADD COLUMN held_at TEXT",
    )),
)


def migrate(db: Database, clock: Clock | None = None) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied now."""
    clock = clock or Clock()
    applied: list[int] = []
    with db.tx() as conn:
        if db.dialect.migration_lock:
            conn.execute(db.dialect.migration_lock)
        conn.execute("CREATE TABLE IF NOT EXISTS hub_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at TEXT NOT NULL)")
        done = {row["version"] for row in conn.execute("SELECT version FROM hub_migrations")}
        for version, name, statements in MIGRATIONS:
            if version in done:
                continue
            for statement in statements:
                conn.execute(statement.replace("{pk}", db.dialect.serial_pk))
            conn.execute("INSERT INTO hub_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                         (version, name, isoformat(clock.now())))
            applied.append(version)
    return applied
