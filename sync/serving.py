"""Running a waitress server so it can be stopped cleanly from its own thread."""
from __future__ import annotations

import threading


def run_until(server, stopped: threading.Event) -> None:
    """waitress's loop in short slices until ``stopped``; then shut down here, in the serving thread
    (closing the server from another thread while an event stream is open races on its sockets)."""
    while not stopped.is_set():
        server.asyncore.loop(timeout=0.05, map=server._map, count=1)
    server.task_dispatcher.shutdown(timeout=2)
    for channel in list(server._map.values()):
        try:
            channel.close()
        except OSError:
            pass
