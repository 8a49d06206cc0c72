
import pytest
from faultproxy import FaultProxy  # noqa: E402
from faultserver import FaultUpstream  # noqa: E402

from packgate.device.clock import FakeClock  # noqa: E402
from packgate.sync.common.db import connect  # noqa: E402
from packgate.sync.upstream.server import start_in_thread  # noqa: E402


@pytest.fixture
def reference(tmp_path):
    """(base_url, stats()) of the reference upstream, lenient about unknown orders."""
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "upstream.db", strict_orders=False)
    up = connect(tmp_path / "upstream.db")

    def stats():
        return dict(up.execute("SELECT k, n FROM up_stats").fetchall()) | {
            "confirmations": up.execute("SELECT COUNT(*) FROM up_confirmations").fetchone()[0],
            "effects": up.execute("SELECT COALESCE(SUM(count), 0) FROM up_effects").fetchone()[0]}

    yield url, stats
    up.close()
    stop()


@pytest.fixture
def proxy(reference):
    port = int(reference[0].rsplit(":", 1)[1])
    p = FaultProxy(port)
    p.url = f"http://127.0.0.1:{p.start()}"
    yield p
    p.stop()


@pytest.fixture
def fault_upstream():
    servers = []

    def make(schedule=(), **kw):
        server = FaultUpstream(schedule, **kw).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def clock():
    return FakeClock()
