"""The station's HTTP server stops at once, idle or with a client's keep-alive connection open. cheroot's
connection loop sleeps in select for ``expiration_interval`` between looks at its stop flag; it is set to
30 s here, so a stop that waited for the loop would take that long."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from packgate.station.web.serving import make_server


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


@pytest.mark.parametrize("client", ["idle", "keep-alive"])
def test_the_server_stops_without_waiting_for_its_connection_loop(client):
    server = make_server(hello, "127.0.0.1", 0)
    server.expiration_interval = 30.0
    serving = threading.Thread(target=server.serve, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.bind_addr[1]}/"
    session = requests.Session()
    if client == "keep-alive":
        assert session.get(url, timeout=5).text == "hello"  # the connection stays open in the session's pool
    time.sleep(0.1)  # the loop is back in its select
    started = time.monotonic()
    server.stop()
    serving.join(5)
    assert not serving.is_alive()
    assert time.monotonic() - started < 5
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=2)
    session.close()
