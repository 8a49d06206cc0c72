import pytest

from packgate.device.clock import FakeClock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect
from packgate.sync.upstream.server import start_in_thread


@pytest.fixture
def upstream(tmp_path):
    """The reference upstream with demo data, served by waitress on 127.0.0.1."""
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "upstream.db", seed_demo=True)
    yield url
    stop()


@pytest.fixture
def client(upstream):
    c = UpstreamClient(upstream, deadline_s=5)
    yield c
    c.close()


@pytest.fixture
def station_db(tmp_path):
    return tmp_path / "station.db"


@pytest.fixture
def conn(station_db):
    c = connect(station_db)
    yield c
    c.close()


@pytest.fixture
def clock():
    return FakeClock()
