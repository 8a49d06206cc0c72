"""``packgate sync reconcile --config packgate.toml`` against a hub that wants the station's token, as site IT runs it
(a process of its own): the station's database, id, URL and token come from the file; a wrong token is one line on
stderr and exit 1, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hubkit import TOKENS

from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.outbox import Outbox
from packgate.sync.worker import OutboxWorker


def station_config(tmp_path: Path, url: str, token: str) -> Path:
    path = tmp_path / "packgate.toml"
    path.write_text("\n".join(["[station]", 'id = "ST01"', 'data_dir = "ST01"', "[upstream]", f'url = "{url}"',
                               'kind = "hub"', f'token = "{token}"', ""]))
    return path


def packgate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "packgate.station.runtime.cli", "sync", *args],
                          capture_output=True, text=True, timeout=60)


def test_reconcile_takes_the_stations_config_and_a_wrong_token_is_one_line(site, clock, tmp_path):
    (tmp_path / "ST01").mkdir()
    db = str(tmp_path / "ST01" / "station.db")
    outbox = Outbox(db, "ST01", clock)
    conn = connect(db)
    for n in range(3):
        with write_tx(conn):
            outbox.enqueue(conn, action="scan", object_type="order", object_id="SO-10012", operator="E001",
                           device="ST01-kiosk", location="ST01", payload={"n": n})
    conn.close()
    client = UpstreamClient(site.url, deadline_s=5, clock=clock, token=TOKENS["ST01"])
    assert OutboxWorker(db, client, clock).drain() == 3
    client.close()
    window = ("--hours", str(24 * 365 * 20))  # the confirmations carry the test's clock, the command real time

    done = packgate("reconcile", "--config", str(station_config(tmp_path, site.url, TOKENS["ST01"])), *window)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["matched"] == 3 and report["sent_missing_upstream"] == [] and report["upstream_not_sent_locally"] == []

    wrong = station_config(tmp_path, site.url, "not-the-token-of-anyone-123")
    refused = packgate("reconcile", "--config", str(wrong), *window)
    assert refused.returncode == 1 and refused.stdout == ""
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert lines[0].startswith("Error: ") and "refused the station's token" in lines[0] and "401" in lines[0]

    named = packgate("reconcile", "--config", str(wrong), "--token", TOKENS["ST01"], *window)
    assert named.returncode == 0 and json.loads(named.stdout)["matched"] == 3  # --token wins over the file
    listed = packgate("dead", "--config", str(wrong))
    assert listed.returncode == 0 and listed.stdout.strip() == "no dead letters"  # the file's database


def test_retry_dead_sends_now_with_the_stations_token_and_a_wrong_token_is_one_line(site, clock, tmp_path):
    (tmp_path / "ST01").mkdir()
    db = str(tmp_path / "ST01" / "station.db")
    outbox = Outbox(db, "ST01", clock)
    conn = connect(db)
    for n in range(2):
        with write_tx(conn):
            outbox.enqueue(conn, action="scan", object_type="order", object_id="SO-10012", operator="E001",
                           device="ST01-kiosk", location="ST01", payload={"n": n})

    def dead() -> None:  # refused for good earlier; the cause is fixed now
        with write_tx(conn):
            conn.execute("UPDATE sync_outbox SET state = 'dead', dead_at = '2026-01-05T08:00:00.000+08:00',"
                         " dead_reason = 'fixed since' WHERE state != 'sent'")

    def states() -> list[str]:
        return [r[0] for r in conn.execute("SELECT state FROM sync_outbox ORDER BY seq")]

    dead()
    wrong = station_config(tmp_path, site.url, "not-the-token-of-anyone-123")
    refused = packgate("retry-dead", "--all", "--by", "E005", "--send", "--config", str(wrong))
    assert refused.returncode == 1 and refused.stdout.strip() == "requeued 2 confirmation(s)", refused.stdout
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "refused the station's token" in lines[0] and "401" in lines[0] and "stay queued" in lines[0]
    assert states() == ["pending", "pending"]  # requeued, nothing sent with a refused token

    dead()
    sent = packgate("retry-dead", "--all", "--by", "E005", "--send", "--config", str(wrong), "--token", TOKENS["ST01"])
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.splitlines() == ["requeued 2 confirmation(s)", "sent 2 now"]
    assert states() == ["sent", "sent"]
    conn.close()
