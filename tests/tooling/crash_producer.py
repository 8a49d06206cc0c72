"""A station-like producer for the crash harness: ``python tests/tooling/crash_producer.py --db ... --upstream ...``.

Each confirmation is enqueued in the same transaction as a row in a station table; only after
COMMIT returns is its id appended to the ack file (the "done" the packer would see). The
outbox worker runs alongside. When ``--target`` confirmations exist it waits for the queue to
drain and exits 0. The harness SIGKILLs it at random moments or at named crash points.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from packgate.device.backoff import Backoff
from packgate.sync import crash
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.outbox import Outbox, outbox_status
from packgate.sync.worker import OutboxWorker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--ack", required=True, help="file the ids of committed confirmations are appended to")
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--station", default="ST01")
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--pause", type=float, default=0.001, help="seconds between confirmations")
    args = parser.parse_args(argv)

    outbox = Outbox(args.db, args.station)
    conn = connect(args.db)
    conn.execute("CREATE TABLE IF NOT EXISTS station_events (n INTEGER PRIMARY KEY, order_id TEXT, action TEXT,"
                 " confirmation_id TEXT)")
    client = UpstreamClient(args.upstream, deadline_s=5)
    worker = OutboxWorker(args.db, client, batch_size=args.batch, backoff=Backoff(base_s=0.02, cap_s=0.5),
                          idle_s=0.02, recheck_s=0.05).start()
    ack = os.open(args.ack, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    print("ready", flush=True)
    count = conn.execute("SELECT COUNT(*) FROM sync_outbox").fetchone()[0]
    while count < args.target:
        order = f"SO-{count % 97:05d}"
        action = ("pick", "verify", "weigh", "pack")[count % 4]
        with write_tx(conn):
            conn.execute("INSERT INTO station_events (order_id, action) VALUES (?, ?)", (order, action))
            conf = outbox.enqueue(conn, action=action, object_type="order", object_id=order, operator="E001",
                                  device=f"{args.station}-scale", location=args.station,
                                  payload={"n": count, "grams": f"{100 + count % 900}.5"})
            conn.execute("UPDATE station_events SET confirmation_id = ? WHERE n = last_insert_rowid()", (conf["id"],))
        crash.point("after_commit")
        os.write(ack, (conf["id"] + "\n").encode())
        count += 1
        if count % 10 == 0:
            worker.wake()
        if args.pause:
            time.sleep(args.pause)
    while outbox_status(conn, outbox.clock.now())["depth"]:
        worker.wake()
        time.sleep(0.02)
    worker.stop()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
