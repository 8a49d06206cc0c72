"""Generic scale parser kinds. A profile names a kind and gives its parameters; no per-model code.

Kinds (module -> codec class; each codec decodes frames AND encodes them for the emulator):

  ``line-fields``          regex over the frame with named groups (weight/sign/digits/decimals/unit/flag/net/status),
                           token and status-bit tables, optional checksum, whole-frame specials; covers MT-SICS,
                           Toledo 8217 "W", NCI, CAS, A&D, Ohaus, Yaohua A9 (STX+XOR), "=" reversed, A12E "WG".
  ``toledo-status-words``  Mettler Toledo continuous output: SWA/SWB/SWC bit fields, digits, tare, optional checksum.

A codec's ``decode(frame: bytes) -> Reading`` never raises; a frame it cannot make sense of becomes a Reading
with status "error", a ``reason`` and ``extra["bad_frame"] = True``.
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping

from packgate.device.errors import ProfileError

#: parser kind -> (module, class). Add a kind by adding a module and a row here.
KINDS: dict[str, tuple[str, str]] = {
    "line-fields": ("packgate.device.scale.parsers.fields", "FieldsCodec"),
    "regex": ("packgate.device.scale.parsers.fields", "FieldsCodec"),  # alias
    "toledo-status-words": ("packgate.device.scale.parsers.toledo_words", "ToledoWordsCodec"),
}


def build_codec(kind: str, params: Mapping[str, Any], encode: Mapping[str, Any], serial, where) -> Any:
    """Instantiate the codec for ``kind``; the codec validates its parameters (raising ProfileError via ``where``)."""
    if kind not in KINDS:
        raise where.error("parser.kind", f"unknown parser kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    module, cls = KINDS[kind]
    codec_cls = getattr(importlib.import_module(module), cls)
    try:
        return codec_cls(params, encode, serial, where)
    except ProfileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any mistake in parameters is a profile error naming the file
        raise where.error("parser", f"{type(exc).__name__}: {exc}") from exc
