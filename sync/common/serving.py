"""Running a waitress server so it can be stopped cleanly from its own thread."""
from __future__ import annotations

import threading


def run_until(server, stopped: threading.Event) -> None:
    """waitress's loop until ``stopped``; then shut down here, in the serving thread (closing the server
    from another thread while an event stream is open races on its sockets). The loop blocks until a
    socket or waitress's trigger wakes it; ``stopped`` pulls the trigger, so an idle server sleeps. poll, not
    select: select() cannot watch a descriptor numbered 1024 or more, which a busy hub process reaches."""
    def wake_on_stop() -> None:
        stopped.wait()
        server.pull_trigger()

    waker = threading.Thread(target=wake_on_stop, name="web-stop", daemon=True)
    waker.start()
    while not stopped.is_set():
        server.asyncore.loop(timeout=5.0, map=server._map, count=1, use_poll=True)
    waker.join(5)  # it pulls the trigger once more: close the trigger only after (its fd number could be reused)
    server.task_dispatcher.shutdown(timeout=2)
    for channel in list(server._map.values()):
        try:
            channel.close()
        except OSError:
            pass
