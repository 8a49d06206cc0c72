"""Which Host (and Origin) a server answers to: the station's pages and the hub's dashboard alike.

A browser sends the name it used in ``Host`` and, on a form or a script's request, the page's origin in ``Origin``;
a page of another site that resolved its own name to this server (DNS rebinding) or posts a form here (CSRF) shows
up in them. ``allowed_hosts(bind_host, extra)`` is the loopback names, the address the server binds (unless it binds
every address) and the names configured; ``host_of`` reduces a header to the bare, lower-case host name.
"""
from __future__ import annotations

from typing import Iterable
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"127.0.0.1", "::1", "localhost"})


def host_of(value: str) -> str:
    """The host name of a Host header or an Origin URL, lower-case, without port or brackets."""
    text = value.strip().lower()
    if "://" in text:
        return (urlsplit(text).hostname or "").lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def allowed_hosts(bind_host: str, extra: Iterable[str]) -> frozenset[str]:
    hosts = set(LOOPBACK_NAMES) | {host_of(h) for h in extra if h}
    if bind_host and bind_host not in ("0.0.0.0", "::"):
        hosts.add(host_of(bind_host))
    return frozenset(hosts)


def foreign(headers: Iterable[str | None], allowed: frozenset[str]) -> str | None:
    """The first of ``headers`` (Host, Origin) naming a host not in ``allowed``, or None. ``Origin: null`` (a
    sandboxed page, a privacy redirect) is not a host and is left to the caller's other checks."""
    for header in headers:
        if header and header != "null" and host_of(header) not in allowed:
            return header
    return None
