"""Least privilege for personal data: mask what a role does not need to see.

``mask_phone`` keeps the last 4 digits: "+86 138 0013 8000" -> "*********8000" (one star per
hidden digit, separators dropped; a number of 4 digits or fewer is masked entirely).
``mask_record`` applies ``FIELD_MASKS`` to a record (nested dicts and lists too) unless the role
is allowed to see the field (``ROLE_SEES``: a supervisor sees all personal fields). Secrets
(``pin``) are removed for every role.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from packgate.station.core.models import Role


def mask_phone(phone: str | None) -> str | None:
    """All digits but the last four become '*'; None and '' pass through."""
    if not phone:
        return phone
    digits = [c for c in phone if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(digits) if digits else "*" * len(phone)
    return "*" * (len(digits) - 4) + "".join(digits[-4:])


def mask_text(value: str | None) -> str | None:
    """Free text such as an address: first character, then stars (length kept vague)."""
    if not value:
        return value
    return value[0] + "***"


def mask_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return mask_text(value)
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


SECRET = object()  # marker: the field is removed for every role

# personal field -> how it is masked
FIELD_MASKS: dict[str, Callable[[Any], Any] | object] = {
    "phone": mask_phone,
    "mobile": mask_phone,
    "address": mask_text,
    "email": mask_email,
    "pin": SECRET,
    "pin_hash": SECRET,
}

# role -> personal fields it sees in clear
ROLE_SEES: dict[Role, frozenset[str]] = {
    Role.SUPERVISOR: frozenset({"phone", "mobile", "address", "email"}),
    Role.PACKER: frozenset(),
    Role.PICKER: frozenset(),
}


def mask_record(record: Any, role: Role | str | None) -> Any:
    """A copy of ``record`` (dict / list / scalar) as ``role`` may see it; None role sees least."""
    sees = ROLE_SEES.get(Role(role), frozenset()) if role else frozenset()
    return _mask(record, sees)


def _mask(value: Any, sees: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            rule = FIELD_MASKS.get(key)
            if rule is SECRET:
                continue
            if callable(rule) and key not in sees and isinstance(item, str):
                out[key] = rule(item)
            else:
                out[key] = _mask(item, sees)
        return out
    if isinstance(value, (list, tuple)):
        return [_mask(item, sees) for item in value]
    return value
