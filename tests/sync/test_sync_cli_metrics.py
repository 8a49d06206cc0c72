import json
import re

from click.testing import CliRunner

from packgate.sync.cli import sync, upstream
from packgate.sync.common.db import connect, write_tx
from packgate.sync.metrics import render_prometheus
from packgate.sync.outbox import Outbox


def make_station(path, dead=1, pending=2):
    ob = Outbox(path, "ST01")
    conn = connect(path)
    ids = []
    for _ in range(dead + pending):
        with write_tx(conn):
            ids.append(ob.enqueue(conn, action="pack", object_type="order", object_id="SO-1", operator="E001",
                                  device="d", location="ST01")["id"])
    for conf_id in ids[:dead]:
        conn.execute("UPDATE sync_outbox SET state='dead', dead_reason='unknown order SO-1' WHERE id=?", (conf_id,))
    conn.close()
    return ids


def test_status_json_and_text(station_db):
    make_station(station_db)
    runner = CliRunner()
    result = runner.invoke(sync, ["status", "--db", str(station_db), "--json"])
    assert result.exit_code == 1  # unhealthy: a dead letter
    data = json.loads(result.output)
    assert data["depth"] == 2 and data["dead"] == 1 and data["problems"]
    text = runner.invoke(sync, ["status", "--db", str(station_db)])
    assert "queue depth    2" in text.output and "dead letters   1" in text.output


def test_status_uses_packgate_db_env_and_explains_a_missing_file(tmp_path, station_db):
    make_station(station_db, dead=0)
    result = CliRunner(env={"PACKGATE_DB": str(station_db)}).invoke(sync, ["status", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["depth"] == 2
    missing = CliRunner().invoke(sync, ["status", "--db", str(tmp_path / "nope.db")])
    assert missing.exit_code != 0 and "no station database" in missing.output


def test_dead_and_retry_dead(station_db):
    ids = make_station(station_db, dead=2)
    runner = CliRunner()
    listed = runner.invoke(sync, ["dead", "--db", str(station_db)])
    assert ids[0] in listed.output and "unknown order" in listed.output
    assert runner.invoke(sync, ["retry-dead", "--db", str(station_db), ids[0]]).exit_code == 2  # --by missing
    one = runner.invoke(sync, ["retry-dead", "--db", str(station_db), "--by", "E005", ids[0]])
    assert one.exit_code == 0 and "requeued 1" in one.output
    rest = runner.invoke(sync, ["retry-dead", "--db", str(station_db), "--by", "E005", "--all"])
    assert "requeued 1" in rest.output
    conn = connect(station_db)
    assert conn.execute("SELECT COUNT(*) FROM sync_outbox WHERE state='dead'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM sync_audit WHERE who='E005'").fetchone()[0] == 2


def test_every_command_has_help():
    assert upstream.help and "--seed-demo" in CliRunner().invoke(upstream, ["--help"]).output
    for name, command in sync.commands.items():
        assert command.help, name


def test_prometheus_text(station_db):
    make_station(station_db)
    text = render_prometheus(Outbox(station_db, "ST01").status(), {"station": 'ST"01'})
    assert 'packgate_outbox_depth{station="ST\\"01"} 2' in text
    assert 'packgate_outbox_dead_letters{station="ST\\"01"} 1' in text
    assert "packgate_clock_skew_seconds{station=\"ST\\\"01\"} NaN" in text
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or \
            re.match(r'^[a-z_]+(\{[^}]*\})? (-?[0-9.e+]+|NaN)$', line), line
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert {"packgate_outbox_depth", "packgate_outbox_oldest_unsent_age_seconds",
            "packgate_sync_last_success_timestamp_seconds", "packgate_sync_ok"} <= names
