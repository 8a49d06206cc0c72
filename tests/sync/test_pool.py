"""The connection pool behind the station's view readers, the reference cache and the HTTP clients."""
from __future__ import annotations

import sqlite3
import threading

from packgate.sync.common.db import connect
from packgate.sync.common.pool import Pool


def closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_a_connection_given_back_is_the_next_one_taken(tmp_path):
    made = []
    pool = Pool(lambda: made.append(connect(tmp_path / "a.db")) or made[-1], lambda c: c.close(), keep=2)
    first = pool.take()
    pool.give(first)
    assert pool.take() is first and len(made) == 1


def test_no_more_than_keep_stay_open_after_a_burst(tmp_path):
    pool = Pool(lambda: connect(tmp_path / "a.db"), lambda c: c.close(), keep=3)
    burst = [pool.take() for _ in range(20)]
    for conn in burst:
        pool.give(conn)
    assert pool.idle == 3
    assert sum(closed(c) for c in burst) == 17


def test_an_idle_connection_older_than_max_idle_is_closed_not_reused(tmp_path):
    now = [0.0]
    pool = Pool(lambda: connect(tmp_path / "a.db"), lambda c: c.close(), max_idle_s=4.0, monotonic=lambda: now[0])
    old = pool.take()
    pool.give(old)
    now[0] = 4.5
    fresh = pool.take()
    assert fresh is not old and closed(old) and not closed(fresh)


def test_close_all_closes_the_idle_now_and_the_busy_when_given_back(tmp_path):
    pool = Pool(lambda: connect(tmp_path / "a.db"), lambda c: c.close())
    idle, busy = pool.take(), pool.take()
    pool.give(idle)
    pool.close_all()
    assert closed(idle) and not closed(busy)
    pool.give(busy)
    assert closed(busy) and pool.idle == 0


def test_threads_share_the_pool_without_handing_one_connection_to_two(tmp_path):
    connect(tmp_path / "a.db").close()  # the file exists (in WAL) before its readers start, as on a station
    pool = Pool(lambda: connect(tmp_path / "a.db"), lambda c: c.close(), keep=4)
    in_use: set[int] = set()
    clashes = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def work() -> None:
        try:
            reads()
        except BaseException as exc:  # noqa: BLE001 - a thread's failure is the test's failure
            errors.append(exc)

    def reads() -> None:
        for _ in range(200):
            with pool.lease() as conn:
                with guard:
                    clashes.append(id(conn) in in_use)
                    in_use.add(id(conn))
                conn.execute("SELECT 1").fetchone()
                with guard:
                    in_use.discard(id(conn))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(clashes) == 1600 and not any(clashes) and pool.idle <= 4
