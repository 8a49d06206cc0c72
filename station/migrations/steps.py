"""The ``station`` set of schema steps: the station's own tables in station.db, oldest first.

A step that shipped is never edited: a change is a new step at the end (see ``station/migrations``). Steps 1-7
are the schema as releases made it before the steps were recorded (``CREATE … IF NOT EXISTS`` scripts run on
every start, and the audit chain's ``ALTER`` guarded by ``PRAGMA table_info``); ``legacy=7`` lets a file from
such a release be adopted rather than rebuilt, and their ``IF NOT EXISTS`` completes a file an older release
left partial (e.g. without the label tables, made only with label printing on).
"""
from __future__ import annotations

from packgate.station import audit_chain
from packgate.sync.common.migrate import Step, StepSet

# the audit log is append-only (station/audit_chain.py); step 2 lifts these for its own transaction
APPEND_ONLY = (
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)

ORDERS_AND_AUDIT = """
CREATE TABLE IF NOT EXISTS order_state (
    order_id    TEXT PRIMARY KEY,
    status      TEXT NOT NULL,              -- open, picking, picked, packing, weighed, blocked, packed, cancelled
    priority    INTEGER NOT NULL DEFAULT 0,
    station     TEXT,
    blocked_reason TEXT,
    picked_at   TEXT, verified_at TEXT, weighed_at TEXT, packed_at TEXT, synced_at TEXT, cancelled_at TEXT,
    updated_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS packed_serials (
    sku TEXT NOT NULL, serial TEXT NOT NULL, order_id TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (sku, serial)
);
CREATE TABLE IF NOT EXISTS weighings (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, order_id TEXT NOT NULL, operator TEXT,
    measured_g TEXT, expected_g TEXT, diff_g TEXT, diff_pct TEXT, allowed_g TEXT, verdict TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
    object_id TEXT, before TEXT, after TEXT, reason TEXT, terminal TEXT
);
CREATE TABLE IF NOT EXISTS escalations (
    id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, level INTEGER NOT NULL, deadline TEXT NOT NULL,
    fired_at TEXT, notified INTEGER NOT NULL DEFAULT 0, notify_error TEXT, acked_by TEXT, acked_at TEXT,
    UNIQUE (order_id, level)
);
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, response TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    terminal TEXT PRIMARY KEY, snapshot TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected_input (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, source TEXT NOT NULL, raw TEXT NOT NULL, reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS order_state_status ON order_state (status, priority);
CREATE INDEX IF NOT EXISTS order_state_recent ON order_state (updated_at, order_id);
CREATE INDEX IF NOT EXISTS escalations_open ON escalations (acked_at, fired_at);
CREATE INDEX IF NOT EXISTS audit_object ON audit (object_id, id);
"""

AUDIT_CHAIN = (
    # the triggers refuse the UPDATE that fills the new columns: lifted for this one transaction
    "DROP TRIGGER IF EXISTS audit_no_update",
    "DROP TRIGGER IF EXISTS audit_no_delete",
    "ALTER TABLE audit ADD COLUMN prev_hash TEXT",
    "ALTER TABLE audit ADD COLUMN row_hash TEXT",
    "CREATE TABLE IF NOT EXISTS audit_head (one INTEGER PRIMARY KEY CHECK (one = 1), last_id INTEGER NOT NULL, "
    "last_hash TEXT NOT NULL, rows INTEGER NOT NULL)",
    audit_chain.chain_all,
    *APPEND_ONLY,
)

EVIDENCE_FRAMES = """
CREATE TABLE IF NOT EXISTS evidence_frames (
    id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, attempt INTEGER NOT NULL, at TEXT NOT NULL,
    seq INTEGER NOT NULL, judged INTEGER NOT NULL, raw_hex TEXT NOT NULL, reading TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_frames_order ON evidence_frames (order_id, attempt, seq);
"""

VIDEO_CLIPS = """
CREATE TABLE IF NOT EXISTS video_clips (
    sha256 TEXT PRIMARY KEY, order_id TEXT NOT NULL, waybill TEXT, operator TEXT, station TEXT NOT NULL,
    path TEXT NOT NULL, codec TEXT NOT NULL, bytes INTEGER NOT NULL, frames INTEGER NOT NULL,
    dropped INTEGER NOT NULL, started_at TEXT NOT NULL, ended_at TEXT NOT NULL, outcome TEXT NOT NULL,
    removed_at TEXT, removed_reason TEXT
);
CREATE INDEX IF NOT EXISTS video_clips_order ON video_clips (order_id, started_at);
"""

DOCK = """
CREATE TABLE IF NOT EXISTS dock_batches (
    batch_id TEXT PRIMARY KEY, carrier TEXT NOT NULL, vehicle TEXT NOT NULL, route TEXT,
    opened_at TEXT NOT NULL, opened_by TEXT NOT NULL, closed_at TEXT, closed_by TEXT
);
CREATE TABLE IF NOT EXISTS dock_parcels (
    order_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL, code TEXT NOT NULL, waybill TEXT,
    scanned_at TEXT NOT NULL, scanned_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dock_parcels_batch ON dock_parcels (batch_id, scanned_at);
"""

LABELS = """
CREATE TABLE IF NOT EXISTS label_jobs (
    key TEXT PRIMARY KEY, order_id TEXT NOT NULL, carton INTEGER NOT NULL, body TEXT NOT NULL,
    waybill TEXT UNIQUE, fields TEXT, job BLOB, language TEXT, source TEXT, synced INTEGER NOT NULL DEFAULT 0,
    sync_error TEXT, requested_at TEXT NOT NULL, printed_at TEXT, prints INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS waybill_pool (
    waybill TEXT PRIMARY KEY, order_id TEXT NOT NULL, reserve_key TEXT NOT NULL, used_by TEXT,
    reserved_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS waybill_pool_order ON waybill_pool (order_id, used_by);
CREATE INDEX IF NOT EXISTS label_jobs_unsynced ON label_jobs (synced, requested_at);
CREATE TABLE IF NOT EXISTS label_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""

# the site hub's view of lot stock: units taken at any table, from the hub's change feed
SITE_LOT_TAKEN = """
CREATE TABLE IF NOT EXISTS site_lot_taken (
    sku TEXT NOT NULL, lot TEXT NOT NULL, order_id TEXT NOT NULL, units INTEGER NOT NULL,
    PRIMARY KEY (sku, lot, order_id)
);
"""

# learned weights (station/weights.py): what each closed carton weighed (passed, or blocked and overridden), the
# last snapshot learned from them, and the figures a supervisor decided (an accepted unit weight, a reset)
WEIGHT_LEARNING = """
CREATE TABLE weight_samples (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, order_id TEXT NOT NULL, carton INTEGER NOT NULL,
    box TEXT NOT NULL, items TEXT NOT NULL, measured_g TEXT NOT NULL, division_g TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('passed', 'overridden'))
);
CREATE TABLE weight_learned (
    one INTEGER PRIMARY KEY CHECK (one = 1), upto_seq INTEGER NOT NULL, decisions INTEGER NOT NULL,
    body TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE weight_decisions (
    id INTEGER PRIMARY KEY, sku TEXT NOT NULL, action TEXT NOT NULL CHECK (action IN ('accept', 'reset')),
    body TEXT NOT NULL, at TEXT NOT NULL
);
"""

# interception (订单拦截, station/interception.py): the WMS's last word on each order it held, cancelled, released or
# changed; each step stopped, once per step and decision; the supervisor's resolution of each conflict (a pack or
# hand-over the WMS refused because it had cancelled the order)
INTERCEPTION = """
CREATE TABLE wms_orders (
    order_id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT, at TEXT, revision INTEGER NOT NULL,
    lines TEXT, carrier TEXT, address TEXT, learned_at TEXT NOT NULL, source TEXT NOT NULL
);
CREATE INDEX wms_orders_status ON wms_orders (status);
CREATE TABLE intercepts (
    order_id TEXT NOT NULL, step TEXT NOT NULL, mark TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (order_id, step, mark)
);
CREATE TABLE conflict_resolutions (
    confirmation_id TEXT PRIMARY KEY, resolved_by TEXT NOT NULL, resolved_at TEXT NOT NULL, note TEXT NOT NULL
);
"""

# returns at the table (逆向物流, station/returns.py): each return processed here (its session and outcome) and every
# step of it (the evidence record); the RMAs themselves are the reference mirror's (sync step 3, ``ref_rmas``)
RETURNS = """
CREATE TABLE returns (
    rma_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, terminal TEXT NOT NULL, state TEXT NOT NULL, operator TEXT,
    reason TEXT, opened_at TEXT NOT NULL, closed_at TEXT, outcome TEXT, session TEXT NOT NULL, evidence_sha256 TEXT
);
CREATE INDEX returns_open ON returns (terminal, state);
CREATE TABLE return_steps (
    id INTEGER PRIMARY KEY, rma_id TEXT NOT NULL, at TEXT NOT NULL, step TEXT NOT NULL, operator TEXT,
    device TEXT, data TEXT NOT NULL, image_sha256 TEXT
);
CREATE INDEX return_steps_rma ON return_steps (rma_id, id);
"""

# site policies (station/review.py, station/carriers.py, station/stock_watch.py): each order's review and its
# supervisor's decision; the WMS's carrier rules and each carrier switch; each stock threshold crossed, until the
# stock is above it again, with when the shift lead was told
POLICIES = """
CREATE TABLE order_reviews (
    order_id TEXT PRIMARY KEY, rules TEXT NOT NULL, opened_at TEXT NOT NULL, decision TEXT, decided_by TEXT,
    decided_at TEXT, reason TEXT, via TEXT
);
CREATE TABLE wms_carriers (carrier TEXT PRIMARY KEY, data TEXT NOT NULL, learned_at TEXT NOT NULL);
CREATE TABLE carrier_switches (
    order_id TEXT PRIMARY KEY, booked TEXT NOT NULL, carrier TEXT NOT NULL, why TEXT NOT NULL, auto INTEGER NOT NULL,
    by_whom TEXT, at TEXT NOT NULL
);
CREATE TABLE stock_alerts (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL, sku TEXT NOT NULL, lot TEXT, kind TEXT NOT NULL, detail TEXT NOT NULL,
    at TEXT NOT NULL, open INTEGER NOT NULL DEFAULT 1, notified_at TEXT, notify_error TEXT
);
CREATE UNIQUE INDEX stock_alerts_open ON stock_alerts (key) WHERE open = 1 AND kind = 'threshold';
"""

# the site's learned weights as the hub last served them (station/weights.py: the gate's figures offline too), the
# site decisions applied here (their number at the hub), and the per-item weighing session of the carton in hand
# (station/per_item_desk.py: a restart mid-parcel goes on where it was)
WEIGHT_SITE = """
CREATE TABLE weight_site (
    one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL, body TEXT NOT NULL, at TEXT NOT NULL
);
ALTER TABLE weight_decisions ADD COLUMN site_n INTEGER;
CREATE UNIQUE INDEX weight_decisions_site ON weight_decisions (site_n);
CREATE TABLE per_item_session (
    one INTEGER PRIMARY KEY CHECK (one = 1), order_id TEXT NOT NULL, carton INTEGER NOT NULL, box TEXT NOT NULL,
    body TEXT NOT NULL, at TEXT NOT NULL
);
"""

WMS_HOLDS = (
    "ALTER TABLE wms_orders ADD COLUMN held_since TEXT",  # the station's time the WMS's hold began (NULL: not held)
    "ALTER TABLE wms_orders ADD COLUMN held_s REAL NOT NULL DEFAULT 0",  # how long earlier holds lasted in all
)

STATION = StepSet("station", (
    Step(1, "orders, serials, weighings, audit log, escalations, answers, sessions, rejected input",
         (ORDERS_AND_AUDIT, *APPEND_ONLY)),
    Step(2, "audit log hash chain", AUDIT_CHAIN),
    Step(3, "evidence: raw scale frames of each weighing", (EVIDENCE_FRAMES,)),
    Step(4, "packing video clips", (VIDEO_CLIPS,)),
    Step(5, "dock hand-over batches and parcels", (DOCK,)),
    Step(6, "label jobs and the waybill pool", (LABELS,)),
    Step(7, "site lot stock from the hub's feed", (SITE_LOT_TAKEN,)),
    Step(8, "learned weights: weighed cartons, the learned snapshot, supervisors' weight decisions", (WEIGHT_LEARNING,)),
    Step(9, "interception: the WMS's word on orders, the steps stopped, conflicts resolved", (INTERCEPTION,)),
    Step(10, "returns: returns processed at the table and their steps", (RETURNS,)),
    Step(11, "site policies: order reviews, carrier rules and switches, stock alerts", (POLICIES,)),
    Step(12, "the site's learned weights kept offline, site weight decisions, the per-item session", (WEIGHT_SITE,)),
    # provisional number (14 at the coordinator's merge): the steps are numbered without a gap
    Step(13, "how long the WMS held each order (its escalations wait while it is held)", WMS_HOLDS),
), legacy=7)
