"""A throwaway PostgreSQL server for the tests and ``scripts/bench-site`` (Debian's ``postgresql`` package).

``TempPostgres().start()`` runs ``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/*/bin`` in a new
folder under the system temp dir, listening on a free port on 127.0.0.1 (and a Unix socket in that folder),
trust authentication for the local superuser ``postgres``. PostgreSQL refuses to run as root, so as root
the folder is given to an unprivileged user (``nobody`` unless ``PACKGATE_PG_USER`` names another) and the
binaries run through ``runuser -u USER --``. ``create_database()`` / ``create_schema()`` return the URL of a fresh database / schema;
``pause()`` / ``resume()`` stop and start it again on the same data and port (an outage); ``stop()`` stops the
server and removes the folder. ``durable=False`` (tests) turns fsync off.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from packgate.device.emulation.ports import free_tcp_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine (apt-get install postgresql)."""


def find_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise PostgresUnavailable("PostgreSQL is not installed: apt-get install postgresql")
    return Path(found[-1]).parent




class TempPostgres:
    def __init__(self, *, durable: bool = False, max_connections: int = 200):
        self.bindir = find_bindir()
        self.durable, self.max_connections = durable, max_connections
        self.user = os.environ.get("PACKGATE_PG_USER", "nobody") if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="packgate-pg-"))
        self.port = free_tcp_port()
        self._n = 0
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:] if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n{log}")

    def start(self) -> "TempPostgres":
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.root / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        return self.resume()

    def pause(self) -> None:
        """Stop the server (fast: connections are cut) and keep its data: an outage; ``resume()`` ends it."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def resume(self) -> "TempPostgres":
        """Start the server on its folder and port (again)."""
        options = [f"-p {self.port}", f"-k {self.root}", "-c listen_addresses=127.0.0.1",
                   f"-c max_connections={self.max_connections}", "-c shared_buffers=64MB"]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", " ".join(options), "start")
        return self

    def create_database(self, name: str | None = None) -> str:
        import psycopg

        with self._lock:
            self._n += 1
            name = name or f"hub_{self._n}"
        with psycopg.connect(f"{self.base_url}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base_url}/{name}"

    def create_schema(self, name: str | None = None) -> str:
        """A fresh schema in database ``postgres``, as a URL whose ``search_path`` is that schema
        (instant, unlike CREATE DATABASE): one per test."""
        import psycopg

        with self._lock:
            self._n += 1
            name = name or f"hub_{self._n}"
        with psycopg.connect(f"{self.base_url}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.base_url}/postgres?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
