"""A fault-injecting TCP proxy (Toxiproxy's toxic names, threads, stdlib only).

``FaultProxy(upstream_port).start()`` returns the port to connect to. Toxics act on the
*response* direction, decided when the first bytes of each response arrive (so "the upstream has
already committed" holds for ``reset_peer``/``timeout``/``limit_data``), and can be limited to the
next ``count`` responses:

- ``latency(delay_s)``      hold every response chunk for ``delay_s``
- ``reset_peer()``          RST the client instead of forwarding the response (``when="request"``:
                            RST as soon as the request arrives, upstream never sees it)
- ``timeout()``             swallow the response and stall until the client gives up
- ``slicer(size, delay_s)`` drip the response in ``size``-byte slices, ``delay_s`` apart
- ``limit_data(nbytes)``    forward ``nbytes`` of the response, then close (truncated body)
- ``down()``                accept and immediately close every new connection
"""
from __future__ import annotations

import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self._toxics: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.connections = 0
        self.requests = 0
        self.applied: list[str] = []

    # ---- control --------------------------------------------------------------------------
    def start(self) -> int:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        threading.Thread(target=self._accept_loop, daemon=True, name="faultproxy").start()
        return self._sock.getsockname()[1]

    def stop(self) -> None:
        self._stop.set()
        if self._sock:
            self._sock.close()
        for conn in list(self._conns):
            _close(conn)

    def toxic(self, name: str, count: int | None = None, **params) -> "FaultProxy":
        with self._lock:
            self._toxics[name] = {"count": count, **params}
        return self

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._toxics.clear()
            else:
                self._toxics.pop(name, None)

    def _take(self, name: str) -> dict | None:
        """The toxic's parameters if active (consuming one use of a counted toxic)."""
        with self._lock:
            params = self._toxics.get(name)
            if params is None:
                return None
            if params["count"] is not None:
                params["count"] -= 1
                if params["count"] <= 0:
                    del self._toxics[name]
            self.applied.append(name)
            return params

    def _active(self, name: str) -> dict | None:
        with self._lock:
            return self._toxics.get(name)

    # ---- plumbing -------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            if self._take("down") is not None:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            self._conns += [client, upstream]
            state = {"new_response": False, "mode": None}
            threading.Thread(target=self._requests, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._responses, args=(client, upstream, state), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, state: dict) -> None:
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                self.requests += 1
                reset = self._active("reset_peer")
                if reset and reset.get("when") == "request" and self._take("reset_peer"):
                    _reset(client)
                    _close(upstream)
                    return
                state["new_response"] = True
                upstream.sendall(data)
        except OSError:
            pass
        _close(upstream)

    def _responses(self, client: socket.socket, upstream: socket.socket, state: dict) -> None:
        sent_in_response = 0
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if state["new_response"]:
                    state["new_response"] = False
                    sent_in_response = 0
                    state["mode"] = self._choose_mode()
                mode = state["mode"]
                if mode is None:
                    client.sendall(data)
                    continue
                name, params = mode
                if name == "reset_peer":
                    _reset(client)
                    break
                if name == "timeout":
                    continue  # swallow: the client waits for bytes that never come
                if name == "limit_data":
                    room = params["nbytes"] - sent_in_response
                    if room > 0:
                        client.sendall(data[:room])
                        sent_in_response += min(room, len(data))
                    if sent_in_response >= params["nbytes"]:
                        time.sleep(0.05)
                        _close(client)
                        break
                    continue
                if name == "latency":
                    time.sleep(params.get("delay_s", 0.5))
                    client.sendall(data)
                    continue
                if name == "slicer":
                    size, delay = params.get("size", 1), params.get("delay_s", 0.1)
                    for i in range(0, len(data), size):
                        client.sendall(data[i:i + size])
                        time.sleep(delay)
        except OSError:
            pass
        _close(client)

    def _choose_mode(self) -> tuple[str, dict] | None:
        for name in ("reset_peer", "timeout", "limit_data", "slicer", "latency"):
            params = self._active(name)
            if params is None or (name == "reset_peer" and params.get("when") == "request"):
                continue
            taken = self._take(name)
            if taken is not None:
                return name, taken
        return None


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER(1, 0): the peer sees a TCP RST (ConnectionResetError)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)  # wake the other pump blocked in recv(), sending nothing yet
    except OSError:
        pass
    try:
        sock.close()  # last reference + linger 0 -> RST
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    """FIN now (shutdown), even while the other pump thread is blocked in recv() on it."""
    for step in (lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
        try:
            step()
        except OSError:
            pass
