"""Versioned schema steps of station.db: a fresh file gets every step, a second run does nothing, a step that fails
rolls back alone and the next start resumes, a file from before the ledger is adopted, a file a newer packgate
wrote is refused with one line naming both versions, and ``packgate db status`` lists what is recorded."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from packgate.device.clock import FakeClock, parse_iso
from packgate.station import audit_chain, migrations
from packgate.station.errors import DatabaseFromTheFutureError
from packgate.station.migrations.steps import APPEND_ONLY, AUDIT_CHAIN, ORDERS_AND_AUDIT, STATION
from packgate.station.runtime.cli import cli
from packgate.sync import schema as sync_schema
from packgate.sync.common.db import connect, write_tx
from packgate.sync.common.migrate import Step, StepSet, statements, upgrade
from packgate.sync.errors import StorageFullError

ROOT = Path(__file__).resolve().parents[2]
EVERY_STEP = [(s.owner, step.version) for s in migrations.SETS for step in s.steps]


def schema_of(conn: sqlite3.Connection) -> dict[str, object]:
    """Tables with their columns, indexes with their columns, triggers with their SQL: what a query can tell apart."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {"tables": {t: [tuple(c) for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables},
            "indexes": {r[0]: (r[1], [tuple(c) for c in conn.execute(f"PRAGMA index_xinfo({r[0]})")])
                        for r in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")},
            "triggers": {r[0]: " ".join(r[1].replace("IF NOT EXISTS ", "").split())
                         for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}}


def ledger(conn: sqlite3.Connection) -> list[tuple[str, int, str]]:
    return [(r[0], r[1], r[2]) for r in conn.execute("SELECT owner, version, how FROM schema_migrations ORDER BY rowid")]


@pytest.fixture
def fresh(tmp_path):
    conn = connect(tmp_path / "station.db")
    yield conn
    conn.close()


def test_a_fresh_database_gets_every_step_in_order_each_recorded_with_an_offset(fresh):
    clock = FakeClock()
    done = migrations.upgrade(fresh, clock)
    assert [(d.owner, d.version, d.how) for d in done] == [(o, v, "applied") for o, v in EVERY_STEP]
    assert ledger(fresh) == [(o, v, "applied") for o, v in EVERY_STEP]
    for row in fresh.execute("SELECT applied_at, name FROM schema_migrations"):
        assert parse_iso(row[0]) == clock.now() and row[0].endswith("+08:00") and row[1]
    for step_set in migrations.SETS:
        for step in step_set.steps:
            assert step.in_place(fresh), (step_set.owner, step.version)
    assert audit_chain.verify(fresh).ok  # the chain's head is in place before the first audit row
    assert sync_schema.outbox_counts(fresh) == {"pending": 0, "sent": 0, "dead": 0}


def test_running_it_again_writes_nothing(fresh):
    migrations.upgrade(fresh)
    before, changes = schema_of(fresh), fresh.total_changes
    assert migrations.upgrade(fresh) == [] and sync_schema.upgrade(fresh) == []
    assert fresh.total_changes == changes and schema_of(fresh) == before
    assert len(ledger(fresh)) == len(EVERY_STEP)


def test_a_file_stopped_at_any_earlier_step_reaches_the_schema_of_a_fresh_file(tmp_path, fresh):
    migrations.upgrade(fresh)
    target = schema_of(fresh)
    for version in range(STATION.newest):
        conn = connect(tmp_path / f"at-{version}.db")
        upgrade(conn, [sync_schema.STEPS.upto(1), STATION.upto(version)])
        added = migrations.upgrade(conn)
        assert [(d.owner, d.version) for d in added] == [("sync", 2), ("sync", 3)] + [("station", v) for v in
                                                                        range(version + 1, STATION.newest + 1)]
        assert schema_of(conn) == target, version
        conn.close()


def test_a_step_that_fails_midway_rolls_back_alone_and_the_next_start_resumes_with_it(fresh):
    def breaks(conn: sqlite3.Connection) -> None:
        assert conn.execute("SELECT x FROM b").fetchone()[0] == 1  # the step's first statements did run
        raise RuntimeError("power cut")

    first = Step(1, "a", ("CREATE TABLE a (x)", "INSERT INTO a VALUES (1)"))
    broken = StepSet("t", (first, Step(2, "b", ("CREATE TABLE b (x); INSERT INTO b VALUES (1)", breaks)),
                           Step(3, "c", ("CREATE TABLE c (x)",))))
    with pytest.raises(RuntimeError, match="power cut"):
        upgrade(fresh, [broken])
    assert ledger(fresh) == [("t", 1, "applied")]
    assert {r[0] for r in fresh.execute("SELECT name FROM sqlite_master")} == {"a", "schema_migrations", "sqlite_autoindex_schema_migrations_1"}
    assert [r[0] for r in fresh.execute("SELECT x FROM a")] == [1]
    mended = StepSet("t", (first, Step(2, "b", ("CREATE TABLE b (x); INSERT INTO b VALUES (1)",)),
                           Step(3, "c", ("CREATE TABLE c (x)",))))
    assert [d.version for d in upgrade(fresh, [mended])] == [2, 3]
    assert ledger(fresh) == [("t", 1, "applied"), ("t", 2, "applied"), ("t", 3, "applied")]
    assert [r[0] for r in fresh.execute("SELECT x FROM b")] == [1]


def test_a_station_step_cut_short_by_a_full_disk_is_rolled_back_and_done_at_the_next_start(tmp_path):
    path = tmp_path / "station.db"
    conn = connect(path)
    upgrade(conn, [sync_schema.STEPS, STATION.upto(4)])
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # room for the dock's first table, not its second
    with pytest.raises(StorageFullError):
        migrations.upgrade(conn)
    assert ledger(conn)[-1] == ("station", 4, "applied")
    assert conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'dock%'").fetchall() == []
    conn.close()
    assert [(d.owner, d.version) for d in migrations.upgrade_file(path)] == [("station", v) for v in range(5, STATION.newest + 1)]


def test_a_file_from_before_the_ledger_and_the_audit_chain_is_adopted_and_chained(tmp_path):
    conn = connect(tmp_path / "old.db")
    conn.executescript(ORDERS_AND_AUDIT + ";".join(APPEND_ONLY) + ";")  # what a release before the chain ran
    for sql in sync_schema.TABLES:
        conn.execute(sql)
    for i in range(3):
        conn.execute("INSERT INTO audit (at, who, action, object_id, before, after, reason, terminal) "
                     "VALUES (?, 'E005', 'cancel', ?, 'null', 'null', 'r', 'k')", (f"2026-01-0{i + 1}T08:00:00+08:00", f"SO-{i}"))
    plan = migrations.status(conn)["pending"]
    assert [(p["owner"], p["version"], p["will"]) for p in plan][:5] == \
        [("sync", 1, "adopt"), ("sync", 2, "run"), ("sync", 3, "run"), ("station", 1, "adopt"), ("station", 2, "run")]
    migrations.upgrade(conn)
    assert ledger(conn)[:5] == [("sync", 1, "adopted"), ("sync", 2, "applied"), ("sync", 3, "applied"),
                                ("station", 1, "adopted"), ("station", 2, "applied")]
    report = audit_chain.verify(conn)
    assert report.ok and report.rows == 3
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit")


def _from_the_future(conn: sqlite3.Connection, owner: str, version: int) -> None:
    with write_tx(conn):
        conn.execute("INSERT INTO schema_migrations (owner, version, name, applied_at, how) "
                     "VALUES (?, ?, 'returns', '2027-03-01T08:00:00.000+08:00', 'applied')", (owner, version))


@pytest.mark.parametrize(("owner", "version", "known"), [("station", STATION.newest + 2, STATION.newest), ("returns", 1, 0)])
def test_a_file_a_newer_packgate_wrote_is_refused_naming_both_versions_and_left_alone(tmp_path, owner, version, known):
    path = tmp_path / "station.db"
    conn = connect(path)
    migrations.upgrade(conn)
    _from_the_future(conn, owner, version)
    with write_tx(conn):  # a step still to do, which the refusal must not do
        conn.execute("DELETE FROM schema_migrations WHERE owner = 'station' AND version = 7")
        conn.execute("DROP TABLE site_lot_taken")
    changes = conn.total_changes
    with pytest.raises(DatabaseFromTheFutureError) as refused:
        migrations.upgrade(conn)
    assert (refused.value.part, refused.value.found, refused.value.known) == (owner, version, known)
    assert f"{owner} schema is at version {version}, this packgate knows up to version {known}" in str(refused.value)
    with pytest.raises(DatabaseFromTheFutureError):
        migrations.refuse_future(conn)
    assert conn.total_changes == changes
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'site_lot_taken'").fetchone() is None
    conn.close()


def test_the_agent_refuses_a_newer_file_with_one_line_and_exit_2(tmp_path):
    data = tmp_path / "var"
    conn = connect(data / "station.db")
    migrations.upgrade(conn)
    _from_the_future(conn, "station", STATION.newest + 1)
    conn.close()
    config = tmp_path / "packgate.toml"
    config.write_text(f'[station]\ndata_dir = "{data}"\n[upstream]\nurl = "http://127.0.0.1:9"\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "packgate.station.runtime.cli", "run", "--config", str(config)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"its station schema is at version {STATION.newest + 1}, this packgate knows up to version " \
           f"{STATION.newest}" in lines[0]
    assert f"其station结构为第{STATION.newest + 1}版，本packgate最高只支持第{STATION.newest}版" in lines[0]
    assert lines[0].startswith("error: ") and str(data / "station.db") in lines[0]


def test_db_status_lists_the_recorded_steps_and_what_the_next_start_does(tmp_path):
    path = tmp_path / "var" / "station.db"
    conn = connect(path)
    upgrade(conn, [sync_schema.STEPS, STATION.upto(5)])
    conn.close()
    config = tmp_path / "packgate.toml"
    config.write_text(f'[station]\ndata_dir = "{path.parent}"\n', encoding="utf-8")
    pending = CliRunner().invoke(cli, ["db", "status", "--config", str(config)], obj={})
    assert pending.exit_code == 1, pending.output
    todo = STATION.newest - 5
    assert f"{todo} schema steps not done yet" in pending.output and f"尚有{todo}个结构升级步骤未完成" in pending.output
    assert "station 6 (label jobs and the waybill pool)" in pending.output
    recorded = [line.split()[:3] for line in pending.output.splitlines() if line.startswith(("sync ", "station "))]
    assert recorded == [["sync", "1", "applied"], ["sync", "2", "applied"], ["sync", "3", "applied"]] + \
        [["station", str(v), "applied"] for v in range(1, 6)]
    migrations.upgrade_file(path)
    current = CliRunner().invoke(cli, ["db", "status", "--db", str(path), "--json"], obj={})
    assert current.exit_code == 0, current.output
    doc = json.loads(current.output)
    assert doc["code"] == "db_current" and doc["pending"] == [] and doc["ahead"] == []
    assert doc["known"] == {"sync": sync_schema.STEPS.newest, "station": STATION.newest} and len(doc["recorded"]) == len(EVERY_STEP)
    assert "工作站数据库已是最新" in doc["message_zh"]


def test_the_commands_that_read_station_db_refuse_a_newer_one(tmp_path):
    path = tmp_path / "station.db"
    conn = connect(path)
    migrations.upgrade(conn)
    _from_the_future(conn, "sync", 9)
    conn.close()
    for args in (["db", "status"], ["audit", "verify"], ["evidence", "export", "SO-1", "--to", str(tmp_path / "x")]):
        result = CliRunner().invoke(cli, [*args, "--db", str(path)], obj={})
        assert result.exit_code == 2, (args, result.output)
        assert [line for line in result.output.splitlines() if line] == \
            [line for line in result.output.splitlines() if "its sync schema is at version 9" in line], args
    assert not (tmp_path / "x").exists()


def test_statements_keep_a_trigger_whole_and_refuse_an_unfinished_one():
    assert statements("CREATE TABLE a (x); CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;") == \
        ["CREATE TABLE a (x)", "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END"]
    with pytest.raises(ValueError, match="unfinished"):
        statements("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1;")
    assert Step(9, "data only", ("UPDATE a SET x = 1",)).creates() == (set(), set())
    assert Step(2, "chain", AUDIT_CHAIN).creates() == (
        {("table", "audit_head"), ("trigger", "audit_no_update"), ("trigger", "audit_no_delete")},
        {("audit", "prev_hash"), ("audit", "row_hash")})


def test_step_sets_are_numbered_without_gaps():
    with pytest.raises(ValueError, match="1, 2, 3"):
        StepSet("x", (Step(1, "a", ()), Step(3, "c", ())))
