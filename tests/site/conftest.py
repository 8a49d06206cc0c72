"""Fixtures for the site hub: the reference upstream as the WMS, hubs on real 127.0.0.1 servers, stations
built from the real station outbox (Outbox + OutboxWorker) pointed at the hub, and a webhook receiver.

Every hub test runs twice: on SQLite and on a real PostgreSQL (``hub_db`` is parametrised). The PostgreSQL
server is Debian's, started once per session in a temp folder as an unprivileged user
(``pgtemp``); each test gets its own schema."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hubkit import START, Site, Webhook
from pgtemp import TempPostgres

from packgate.device.clock import FakeClock
from packgate.sync.hub.engine import Database
from packgate.sync.hub.migrations import migrate
from packgate.sync.upstream.server import start_in_thread as start_wms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def wms(tmp_path: Path, clock: FakeClock) -> Iterator[str]:
    url, stop = start_wms("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True, clock=clock)
    yield url
    stop()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    server = TempPostgres().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The hub's database URL: a SQLite file, or a fresh schema on the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "hub.db")
    return str(request.getfixturevalue("postgres").create_schema())


@pytest.fixture
def db(hub_db: str) -> Iterator[Database]:
    """The hub's database on ``hub_db``, migrated, with no hub around it (the engine's and the writers' own tests)."""
    database = Database(hub_db)
    migrate(database)
    yield database
    database.close()


@pytest.fixture
def make_site(tmp_path: Path, wms: str, clock: FakeClock, webhook: Webhook,
              hub_db: str) -> Iterator[Callable[..., Site]]:
    """``make_site(**overrides)`` starts a hub on ``hub_db``; call it twice for two hubs on one database."""
    built: list[Site] = []

    def make(**overrides: Any) -> Site:
        site = Site(tmp_path, wms, clock, webhook, overrides.pop("db", hub_db), **overrides)
        built.append(site)
        return site

    yield make
    for site in built:
        site.stop()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()
