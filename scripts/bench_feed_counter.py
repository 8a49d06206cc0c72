"""``scripts/bench-feed-counter``: the hub's writers side by side on one database, with and without busy threads.

Every transaction that changes the feed takes the feed counter's row lock last and holds it until its COMMIT
(``sync.hub.engine``): the writers of a site queue there. This bench runs ``--writers`` threads in one process,
as the hub's writers are, each committing one-row writes as fast as it can for ``--seconds``, and prints, per store,
side by side in one run:

* ``hub`` — the hub's engine (``Database.run``), each write with one feed change (the counter taken);
* ``no-feed`` — the same engine and write without a feed change (no counter: what the lock costs);
* ``raw`` — INSERT + COMMIT on the driver's own connection per thread (no engine at all).

Each row runs again with ``--busy`` CPU-bound threads beside the writers: they stand for the hub's request threads,
which hold Python's lock while the writers wait for the database. The load is in this process on purpose (Python's
lock is what is measured); PostgreSQL is a throwaway durable server (``pgtemp``, fsync on) started by the bench.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from pgtemp import TempPostgres

from packgate.sync.common.db import connect
from packgate.sync.hub.engine import Conn, Database
from packgate.sync.hub.migrations import migrate

AT = datetime(2026, 12, 6, tzinfo=timezone.utc)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run(writers: int, busy: int, seconds: float, write: Callable[[int, int], None]) -> dict[str, Any]:
    """``write(thread, n)`` in ``writers`` threads for ``seconds`` beside ``busy`` CPU-bound ones."""
    end = time.monotonic() + seconds
    times: list[list[float]] = [[] for _ in range(writers)]

    def writer(thread: int) -> None:
        n = 0
        while time.monotonic() < end:
            began = time.monotonic()
            write(thread, n)
            times[thread].append(time.monotonic() - began)
            n += 1

    def burner() -> None:
        x = 0
        while time.monotonic() < end:
            for i in range(2000):
                x += i

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(writers)]
    threads += [threading.Thread(target=burner) for _ in range(busy)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [t for per in times for t in per]
    return {"rate": len(every) / seconds, "p50": _pct(every, 0.5), "p99": _pct(every, 0.99)}


def engine_write(db: Database, feed: bool, tag: str) -> Callable[[int, int], None]:
    def write(thread: int, n: int) -> None:
        def fn(conn: Conn) -> None:
            conn.execute("INSERT INTO hub_meta (k, v) VALUES (?, ?)", (f"{tag}-{thread}-{n}", "v"))
            if feed:
                conn.feed_row(AT, "order", f"SO-{thread}-{n}", {"n": n})
        db.run(fn)
    return write


def raw_write(url: str, writers: int) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """One connection per thread, INSERT + COMMIT on the driver itself."""
    if url.startswith("postgresql"):
        import psycopg

        conns: list[Any] = [psycopg.connect(url) for _ in range(writers)]
        insert = "INSERT INTO raw (body) VALUES (%s)"
        conns[0].execute("CREATE TABLE IF NOT EXISTS raw (n BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)")
    else:
        conns = [connect(Path(url)) for _ in range(writers)]
        insert = "INSERT INTO raw (body) VALUES (?)"
        conns[0].execute("CREATE TABLE IF NOT EXISTS raw (n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    conns[0].commit()

    def write(thread: int, n: int) -> None:
        conn = conns[thread]
        if isinstance(conn, sqlite3.Connection):
            conn.execute("BEGIN IMMEDIATE")
        conn.execute(insert, ("x" * 100,))
        conn.commit()

    def close() -> None:
        for conn in conns:
            conn.close()

    return write, close


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="sqlite,pg", help="sqlite, pg")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound threads in the second run of each row")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    stores = args.stores.split(",")
    print(f"store   what      busy  transactions/s  p50 ms  p99 ms   ({args.writers} writers, {args.seconds:g} s"
          f" each, load {os.getloadavg()[0]:.1f})", flush=True)
    pg = TempPostgres(durable=True).start() if "pg" in stores else None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-feed-counter-") as tmp:
            for store in stores:
                for busy in (0, args.busy):
                    url = pg.create_database(f"b{busy}") if store == "pg" and pg else str(Path(tmp) / f"{busy}.db")
                    db = Database(url)
                    migrate(db)
                    rows = [("hub", run(args.writers, busy, args.seconds, engine_write(db, True, "hub"))),
                            ("no-feed", run(args.writers, busy, args.seconds, engine_write(db, False, "plain")))]
                    db.close()
                    write, close = raw_write(url, args.writers)
                    rows.append(("raw", run(args.writers, busy, args.seconds, write)))
                    close()
                    for what, r in rows:
                        print(f"{store:<7} {what:<9} {busy:>4}  {r['rate']:>14.1f}  {r['p50']:>6.2f}  {r['p99']:>6.2f}",
                              flush=True)
    finally:
        if pg is not None:
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
