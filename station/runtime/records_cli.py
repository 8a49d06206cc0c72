"""``packgate audit verify``, ``packgate evidence export ORDER --to DIR`` and ``packgate db status``: read the
station's database (never write it) and say what they found in English and Chinese (texts from ``core.verdicts``).
A database a newer packgate wrote is refused with one line (``refusal``), before anything is read from it."""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click

from packgate.device.clock import Clock
from packgate.device.codes import canonical_badge
from packgate.station import audit_chain, evidence, migrations, privacy
from packgate.station.core.verdicts import audit_problems, make
from packgate.station.errors import ConfigError, DatabaseFromTheFutureError
from packgate.station.runtime.config import load
from packgate.sync.common import sealing
from packgate.sync.common.db import connect
from packgate.sync.common.pins import pin_matches

_db_options = [
    click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
                 help="The station database (default: station.db in the configuration's station.data_dir)."),
    click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                 help="packgate.toml, to find the station's data folder."),
    click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
]


def db_options(func: Any) -> Any:
    for option in reversed(_db_options):
        func = option(func)
    return func


def _say(verdict: dict, as_json: bool, extra: dict | None = None, err: bool = False) -> None:
    if as_json:
        click.echo(json.dumps({**(extra or {}), "code": verdict["code"], "message": verdict["message"],
                               "message_zh": verdict["message_zh"]}, ensure_ascii=False, indent=2))
    else:
        click.echo(verdict["message"], err=err)
        click.echo(verdict["message_zh"], err=err)


def open_readonly(db_path: str | None, config_file: str | None, as_json: bool) -> tuple[sqlite3.Connection, Path]:
    """The station database, read-only; exits 2 with the reason when there is none."""
    try:
        cfg = load(config_file) if config_file or db_path is None else None
        data_dir = cfg.data_dir if cfg is not None and db_path is None else Path(db_path or ".").parent
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    path = Path(db_path) if db_path else data_dir / "station.db"
    if not path.is_file():
        _say(make("no_station_db", path=str(path)).as_dict(), as_json, {"ok": False}, err=True)
        sys.exit(2)
    if cfg is not None and cfg["privacy.key_file"]:
        sealing.place_key(path, cfg.key_file)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        migrations.refuse_future(conn)
    except DatabaseFromTheFutureError as exc:
        conn.close()
        _say_refusal(exc, as_json)
    return conn, data_dir


def refusal(exc: DatabaseFromTheFutureError) -> str:
    """The one line that refuses a database a newer packgate wrote, in English and Chinese."""
    verdict = make("db_from_the_future", **exc.fields())
    return f"error: {verdict.message} {verdict.message_zh}"


def _say_refusal(exc: DatabaseFromTheFutureError, as_json: bool) -> None:
    if as_json:
        _say(make("db_from_the_future", **exc.fields()).as_dict(), True, {"ok": False, **exc.fields()})
    else:
        click.echo(refusal(exc), err=True)
    sys.exit(2)


@click.group()
def audit() -> None:
    """The station's audit log (manual changes: overrides, lot swaps, cancels, acknowledgements)."""


@audit.command("verify")
@db_options
def audit_verify(db_path: str | None, config_file: str | None, as_json: bool) -> None:
    """Recompute the audit log's hash chain; exit 0 intact, 1 changed or deleted rows, 2 no database."""
    conn, _ = open_readonly(db_path, config_file, as_json)
    try:
        report = audit_chain.verify(conn)
    finally:
        conn.close()
    if report.ok:
        verdict = make("audit_intact", rows=report.rows, head_id=report.head_id or 0,
                       head_hash=report.head_hash or audit_chain.GENESIS).as_dict()
    else:
        en, zh = audit_problems(report.problems)
        verdict = make("audit_tampered", count=len(report.problems), problems=en, problems_zh=zh).as_dict()
    _say(verdict, as_json, report.as_dict())
    sys.exit(0 if report.ok else 1)


@click.group("evidence")
def evidence_group() -> None:
    """One evidence record per parcel (or per return, by its RMA): scans, badges, weighings, photos and clips."""


def _return_record(conn: sqlite3.Connection, rma_id: str) -> dict | None:
    """A return's evidence record (``station/returns.py``), on a database that has returns."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'returns'").fetchone() is None:
        return None
    from packgate.station.returns import record

    return record(conn, rma_id)


@evidence_group.command("export")
@click.argument("order_id")
@click.option("--to", "folder", type=click.Path(file_okay=False), required=True, help="Folder to write into.")
@click.option("--media", "media_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Another folder holding photos or clips named by their SHA-256 (repeatable).")
@click.option("--badge", "badge", default="", help="The badge code (or employee id) of the supervisor exporting.")
@click.option("--pin", "pin", default=None, envvar="PACKGATE_SUPERVISOR_PIN",
              help="The supervisor's PIN (asked when not given; or PACKGATE_SUPERVISOR_PIN).")
@db_options
def evidence_export(order_id: str, folder: str, media_dirs: tuple[str, ...], badge: str, pin: str | None,
                    db_path: str | None, config_file: str | None, as_json: bool) -> None:
    """Write ORDER's evidence record (evidence.json) and its media (photos, clips) into the folder; an RMA id
    writes that return's record (its steps, grades with photos, weighing, seal, and the order's outbound media).
    A second verification: a supervisor's badge and PIN; the export (and a refused one) is in the audit log."""
    conn, data_dir = open_readonly(db_path, config_file, as_json)
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    conn.close()
    if badge and pin is None:
        pin = click.prompt("Supervisor PIN / 主管密码", hide_input=True, default="", show_default=False)
    conn = connect(path)  # the export is audited: written to the audit log
    try:
        who, refused = _supervisor_of(conn, badge, pin or "")
        if refused is not None:
            privacy.audit_export(conn, order_id, who, "cli", Clock().now(), refused=refused)
            verdict = make(refused).as_dict() if refused == "export_needs_supervisor" else \
                make("export_not_supervisor", name=who, role=refused.partition(":")[2]).as_dict()
            _say(verdict, as_json, {"ok": False}, err=True)
            sys.exit(1)
        record = evidence.record(conn, order_id) or _return_record(conn, order_id)
        if record is None:
            _say(make("evidence_unknown_order", order_id=order_id).as_dict(), as_json, {"ok": False}, err=True)
            sys.exit(1)
        written = evidence.export(record, Path(folder), evidence.media_dirs(data_dir, media_dirs))
        privacy.audit_export(conn, order_id, who, "cli", Clock().now(), files=len(written))
    finally:
        conn.close()
    _say(make("evidence_exported", order_id=order_id, folder=folder, files=len(written)).as_dict(), as_json,
         {"ok": True, "files": [str(p) for p in written]})


def _supervisor_of(conn: sqlite3.Connection, badge: str, pin: str) -> tuple[str, str | None]:
    """(who, None) for a supervisor's badge (or employee id) and PIN, else (who or "-", the refusal's code)."""
    if not badge.strip() or not pin.strip():
        return "-", "export_needs_supervisor"
    ring = sealing.ring_of(conn)
    wanted = canonical_badge(badge.strip())
    row = conn.execute("SELECT data FROM ref_employees WHERE badge_uid = ? OR employee_id = ? LIMIT 1",
                       (wanted, badge.strip())).fetchone()
    employee = ring.open_record(json.loads(row[0])) if row else None
    if employee is None or not pin_matches(employee.get("pin_hash"), pin.strip()):
        return "-", "export_needs_supervisor"
    who = str(employee["employee_id"])
    if employee.get("role") != "supervisor":
        return who, f"export_not_supervisor:{employee.get('role')}"
    return who, None


@click.group("db")
def db_group() -> None:
    """The station database's schema: the numbered steps recorded in it (the agent runs missing ones at start)."""


@db_group.command("status")
@db_options
def db_status(db_path: str | None, config_file: str | None, as_json: bool) -> None:
    """List the schema steps recorded in the database and the ones the next start adopts or runs; exit 0 up to
    date, 1 steps pending, 2 no database or one a newer packgate wrote."""
    conn, _ = open_readonly(db_path, config_file, as_json)
    try:
        found = migrations.status(conn)
    finally:
        conn.close()
    pending = found["pending"]
    if pending:
        steps = ", ".join(f"{p['owner']} {p['version']} ({p['name']})" for p in pending)
        verdict = make("db_steps_pending", count=len(pending), steps=steps).as_dict()
    else:
        versions = ", ".join(f"{owner} {newest}" for owner, newest in found["known"].items())
        verdict = make("db_current", versions=versions).as_dict()
    if not as_json:
        for row in found["recorded"]:
            click.echo(f"{row['owner']:<8} {row['version']:>3}  {row['how']:<8} {row['applied_at']}  {row['name']}")
    _say(verdict, as_json, found)
    sys.exit(1 if pending else 0)
