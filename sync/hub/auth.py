"""Who may call the hub: stations by bearer token, supervisors by badge + PIN with a server-side session.

Station tokens come from ``[stations]`` in site.toml, each in clear or as ``sha256:<hex>`` (``packgate site token``
prints a new token and its hash: the hub only ever compares, so it need not keep the token itself); compared with
``hmac.compare_digest``. Supervisors are the employees with role ``supervisor`` in the reference data; their
``pin_hash`` (argon2, ``packgate.sync.common.pins``) is verified; a plain-text PIN never signs anyone in. A
dashboard session's id lives in the supervisor's cookie only: the hub keeps its SHA-256 (``session_key``).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from packgate.sync.common import pins
from packgate.sync.errors import HubRequestError

COOKIE = "packgate_site"  # the supervisor's dashboard session
LOGIN_COOKIE = "packgate_site_login"  # the sign-in form's CSRF token (double submit: the cookie and the form)
HASHED = "sha256:"


def token_hash(token: str) -> str:
    """How site.toml may keep a station's token: ``sha256:`` and the hex digest of the token."""
    return HASHED + hashlib.sha256(token.encode()).hexdigest()


def session_key(token: str) -> str:
    """What the hub stores of a session id (the id itself is only in the supervisor's cookie)."""
    return hashlib.sha256(token.encode()).hexdigest()


_indexed: tuple[int, dict[bytes, str]] = (0, {})


def _index(tokens: dict[str, str]) -> dict[bytes, str]:
    """``sha256:<hex of the token>`` -> station, made once per [stations] table (a request finds its station with one
    comparison, not one per station of the site; ``station_for_token`` still compares every token when it misses)."""
    global _indexed
    known, index = _indexed
    if known != id(tokens) or len(index) != len(tokens):
        index = {(token if token.startswith(HASHED) else token_hash(token)).encode(): station
                 for station, token in tokens.items()}
        _indexed = (id(tokens), index)
    return index


def station_for_token(header: str | None, tokens: dict[str, str]) -> str:
    """The station id whose token is in ``Authorization: Bearer …``; 401 otherwise."""
    if not header or not header.startswith("Bearer "):
        raise HubRequestError("missing Authorization: Bearer <station token>", 401)
    given = header[len("Bearer "):].strip()
    digest = token_hash(given).encode()
    indexed = _index(tokens).get(digest)
    if indexed is not None:  # confirmed against the token kept now, in constant time
        now_kept = tokens.get(indexed, "")
        if hmac.compare_digest(digest if now_kept.startswith(HASHED) else given.encode(), now_kept.encode()):
            return indexed
    found = None
    for station, token in tokens.items():
        kept = token.encode()
        if hmac.compare_digest(digest if token.startswith(HASHED) else given.encode(), kept):
            found = station
    if found is None:
        raise HubRequestError("unknown station token", 401)
    return found


def require_station(authenticated: str, claimed: Any) -> None:
    if claimed != authenticated:
        raise HubRequestError(f"this token belongs to station {authenticated}, not {claimed!r}", 403)


def pin_matches(employee: dict[str, Any], pin: str) -> bool:
    return pins.pin_matches(employee.get("pin_hash"), pin)


def new_token() -> str:
    return secrets.token_urlsafe(32)
