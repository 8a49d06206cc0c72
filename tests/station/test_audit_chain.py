"""The audit log's hash chain: a row changed or deleted behind the triggers' back is detected, and rows
written before the chain existed are chained by the migration."""
from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from packgate.station import audit_chain, migrations, store
from packgate.station.migrations.steps import APPEND_ONLY, STATION
from packgate.station.runtime.cli import cli
from packgate.sync.common.db import connect, write_tx
from packgate.sync.common.migrate import upgrade


def _db(tmp_path, rows: int = 4) -> tuple[str, sqlite3.Connection]:
    path = str(tmp_path / "station.db")
    conn = connect(path)
    migrations.upgrade(conn)
    for i in range(rows):
        with write_tx(conn):
            store.add_audit(conn, f"2026-01-05T08:0{i}:00.000+08:00", "E005", "weight_override", f"SO-1000{i}",
                            {"state": "blocked"}, {"state": "weighed_ok"}, f"reason {i}", "ST01-kiosk")
    return path, conn


def _tamper(conn: sqlite3.Connection, sql: str, args: tuple = ()) -> None:
    """What someone with the sqlite3 shell could do: lift the triggers and edit."""
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute(sql, args)


def test_an_untouched_log_verifies_and_reports_its_head(tmp_path):
    _path, conn = _db(tmp_path)
    report = audit_chain.verify(conn)
    assert report.ok and report.rows == 4 and report.head_id == 4
    last = conn.execute("SELECT row_hash FROM audit WHERE id = 4").fetchone()[0]
    assert report.head_hash == last and len(last) == 64


def test_a_changed_row_is_detected(tmp_path):
    _path, conn = _db(tmp_path)
    _tamper(conn, "UPDATE audit SET reason = 'nothing happened' WHERE id = 2")
    report = audit_chain.verify(conn)
    assert not report.ok
    assert {"kind": "changed", "id": 2} in report.problems


def test_a_changed_row_with_a_recomputed_hash_breaks_the_next_link(tmp_path):
    _path, conn = _db(tmp_path)
    row = dict(conn.execute("SELECT * FROM audit WHERE id = 2").fetchone())
    forged = audit_chain.row_hash(row["prev_hash"], {**row, "who": "E001"})
    _tamper(conn, "UPDATE audit SET who = 'E001', row_hash = ? WHERE id = 2", (forged,))
    problems = audit_chain.verify(conn).problems
    assert {"kind": "broken_link", "id": 3, "after_id": 2} in problems


def test_a_deleted_row_is_detected_in_the_middle_and_at_the_end(tmp_path):
    _path, conn = _db(tmp_path)
    _tamper(conn, "DELETE FROM audit WHERE id = 2")
    assert {"kind": "broken_link", "id": 3, "after_id": 1} in audit_chain.verify(conn).problems
    conn.execute("DELETE FROM audit WHERE id = 4")  # the newest: only the head knows
    kinds = [p["kind"] for p in audit_chain.verify(conn).problems]
    assert "head_mismatch" in kinds


def test_a_row_appended_after_a_deleted_newest_row_does_not_hide_it(tmp_path):
    _path, conn = _db(tmp_path)
    _tamper(conn, "DELETE FROM audit WHERE id = 4")
    for sql in APPEND_ONLY:
        conn.execute(sql)
    with write_tx(conn):
        store.add_audit(conn, "2026-01-05T09:00:00.000+08:00", "E005", "cancel", "SO-1", None, None, "x", None)
    assert {"kind": "broken_link", "id": 4, "after_id": 3} in audit_chain.verify(conn).problems


def test_the_migration_chains_rows_written_before_the_chain(tmp_path):
    path = str(tmp_path / "old.db")
    conn = connect(path)
    upgrade(conn, [STATION.upto(1)])  # the schema as it was: no chain columns
    for i in range(3):
        conn.execute("INSERT INTO audit (at, who, action, object_id, before, after, reason, terminal) "
                     "VALUES (?, 'E005', 'cancel', ?, 'null', 'null', 'r', 'k')", (f"2026-01-0{i + 1}T08:00:00+08:00", f"SO-{i}"))
    assert [(s.owner, s.version, s.how) for s in migrations.upgrade(conn) if s.owner == "station"] == \
        [("station", v, "applied") for v in range(2, STATION.newest + 1)]
    assert migrations.upgrade(conn) == []  # once only
    assert conn.execute("SELECT COUNT(*) FROM audit WHERE row_hash IS NULL").fetchone()[0] == 0
    report = audit_chain.verify(conn)
    assert report.ok and report.rows == 3
    for sql in ("UPDATE audit SET who = 'x'", "DELETE FROM audit"):  # still append-only afterwards
        try:
            conn.execute(sql)
        except sqlite3.IntegrityError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{sql} was allowed")
    with write_tx(conn):
        store.add_audit(conn, "2026-01-05T09:00:00.000+08:00", "E005", "cancel", "SO-9", None, None, "r", None)
    assert audit_chain.verify(conn).ok


def test_cli_audit_verify_exit_codes_and_both_languages(tmp_path):
    path, conn = _db(tmp_path)
    runner = CliRunner()
    good = runner.invoke(cli, ["audit", "verify", "--db", path])
    assert good.exit_code == 0, good.output
    assert "4" in good.output and "审计日志完整" in good.output
    _tamper(conn, "UPDATE audit SET reason = 'edited' WHERE id = 3")
    bad = runner.invoke(cli, ["audit", "verify", "--db", path, "--json"])
    assert bad.exit_code == 1
    report = json.loads(bad.output)
    assert report["ok"] is False and {"kind": "changed", "id": 3} in report["problems"]
    assert "审计日志" in report["message_zh"] and "row 3" in report["message"]
    missing = runner.invoke(cli, ["audit", "verify", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "none.db" in missing.output and "数据库" in missing.output
