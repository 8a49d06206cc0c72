"""Reading a profile's TOML tables key by key: every error names the file and the dotted key."""
from __future__ import annotations

from typing import Any, Mapping

from packgate.device.errors import ProfileError


def to_bytes(text: str) -> bytes:
    """TOML strings carry control characters as escapes ("\\r\\n", "\\u0002"); bytes are latin-1."""
    return text.encode("latin-1")


class Where:
    """Names file and key in every error."""

    def __init__(self, source: str):
        self.source = source

    def error(self, key: str, msg: str) -> ProfileError:
        return ProfileError(f"{self.source}: key '{key}': {msg}")

    def get(self, table: Mapping, key: str, typ: type | tuple, prefix: str, default: Any = ..., required: bool = False):
        full = f"{prefix}.{key}" if prefix else key
        if key not in table:
            if required or default is ...:
                raise self.error(full, "missing")
            return default
        value = table[key]
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
            raise self.error(full, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def bytes_of(self, table: Mapping, key: str, prefix: str, default: str = "") -> bytes:
        text = self.get(table, key, str, prefix, default)
        try:
            return to_bytes(text)
        except UnicodeEncodeError as exc:
            raise self.error(f"{prefix}.{key}", "must be bytes 0..255 (use \\u00XX escapes)") from exc
