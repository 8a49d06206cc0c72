"""What the station's ``packgate.toml`` and the hub's ``site.toml`` share: TOML tables to dotted keys and
back, and how a setting's type is named in an error."""
from __future__ import annotations

from typing import Any, Mapping

TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
              dict: "a table"}


def type_name(typ: type | tuple[type, ...]) -> str:
    """``int`` -> "an integer"; ``(str, list)`` -> "a string or a list"."""
    if isinstance(typ, tuple):
        return " or ".join(TYPE_NAMES.get(t, t.__name__) for t in typ)
    return TYPE_NAMES.get(typ, typ.__name__)


def flatten(tree: Mapping[str, Any], schema: Mapping[str, tuple], prefix: str = "") -> dict[str, Any]:
    """TOML tables as dotted keys (``[scale] port = …`` -> ``scale.port``); a key the schema types as a table
    (``dict``) stays one value."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and schema.get(dotted, (None,))[0] is not dict:
            flat.update(flatten(value, schema, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def toml_value(value: Any) -> str:
    """One value written as TOML (for the defaults a ``config defaults`` command prints)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)
