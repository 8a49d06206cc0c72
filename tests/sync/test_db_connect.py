"""Opening one brand-new database file from many connections at once (issue 23: a station's worker thread and
its outbox opened the same new file together and one failed with "database is locked" at the WAL switch)."""
from __future__ import annotations

import threading
from pathlib import Path

from packgate.sync.common.db import connect

OPENERS = 4
ROUNDS = 200  # without the retry an opener failed within the first fifty rounds in each of ten runs here


def open_together(path: Path) -> tuple[list[str], list[BaseException]]:
    start = threading.Barrier(OPENERS)
    modes: list[str] = []
    errors: list[BaseException] = []

    def opener() -> None:
        start.wait()
        try:
            conn = connect(path)
            modes.append(conn.execute("PRAGMA journal_mode").fetchone()[0])
            conn.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(OPENERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return modes, errors


def test_many_connections_opening_a_new_file_at_once_all_open_it_in_wal(tmp_path):
    for n in range(ROUNDS):
        modes, errors = open_together(tmp_path / f"new-{n}.db")
        assert not errors, f"round {n}: {errors!r}"
        assert modes == ["wal"] * OPENERS, f"round {n}: {modes}"
