"""Who may call the hub: stations by bearer token, supervisors by badge + PIN with a server-side session.

Station tokens come from ``[stations]`` in site.toml and are compared with ``hmac.compare_digest``.
Supervisors are the employees with role ``supervisor`` in the reference data; their ``pin_hash``
(argon2, ``packgate.sync.common.pins``) is verified; a plain-text PIN never signs anyone in.
"""
from __future__ import annotations

import hmac
import secrets
from typing import Any

from packgate.sync.common import pins
from packgate.sync.errors import HubRequestError

COOKIE = "packgate_site"  # the supervisor's dashboard session


def station_for_token(header: str | None, tokens: dict[str, str]) -> str:
    """The station id whose token is in ``Authorization: Bearer …``; 401 otherwise."""
    if not header or not header.startswith("Bearer "):
        raise HubRequestError("missing Authorization: Bearer <station token>", 401)
    given = header[len("Bearer "):].strip().encode()
    found = None
    for station, token in tokens.items():
        if hmac.compare_digest(given, token.encode()):
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
