"""``toledo-status-words``: Mettler Toledo standard continuous output (8142 style).

Frame: STX SWA SWB SWC <weight digits> [<tare digits>] CR [CHK]

Parameters (``[parser]``):
  checksum   true when a checksum byte follows CR (two's complement of the 7-bit sum of STX..CR)
  tare       true when the tare field is present (default true)
  width      digits per field (default 6)
  dp_table   SWA bits 2-0 -> decimals; negative = dummy zeros (default [-2, -1, 0, 1, 2, 3, 4, 5])
  units      SWC bits 2-0 -> unit; code 0 means "lb or kg by SWB bit 4" (``lbkg``), a missing code = no unit
  lbkg       [unit when SWB bit4 = 0, unit when 1] (default ["lb", "kg"])
SWB: bit0 net, bit1 negative, bit2 out of range, bit3 motion, bit4 kg, bit6 zero not captured.
Bits 5 of SWA/SWB/SWC are always 1; a frame where they are not is treated as out of sync.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from packgate.device.scale.parsers.common import (
    EmuState,
    bad_frame,
    checksum,
    decode_safely,
    digits_weight,
    make_reading,
    state_flags,
    weight_vars,
)
from packgate.device.scale.reading import Reading

DEFAULT_DP = (-2, -1, 0, 1, 2, 3, 4, 5)


class ToledoWordsCodec:
    def __init__(self, params: Mapping[str, Any], encode: Mapping[str, Any], serial, where):
        p = "parser"
        self.has_checksum = where.get(params, "checksum", bool, p, False)
        self.has_tare = where.get(params, "tare", bool, p, True)
        self.width = where.get(params, "width", int, p, 6)
        self.dp_table = tuple(where.get(params, "dp_table", tuple, p, DEFAULT_DP))
        if len(self.dp_table) != 8 or not all(isinstance(x, int) for x in self.dp_table):
            raise where.error(f"{p}.dp_table", "must list 8 integers (SWA bits 2-0)")
        units = where.get(params, "units", Mapping, p, {"1": "g", "2": "t", "3": "oz"})
        try:
            self.units = {int(k): str(v) for k, v in units.items()}
        except ValueError as exc:
            raise where.error(f"{p}.units", "keys must be SWC codes 1..7") from exc
        self.lbkg = tuple(where.get(params, "lbkg", tuple, p, ("lb", "kg")))
        if len(self.lbkg) != 2:
            raise where.error(f"{p}.lbkg", "must be [lb-unit, kg-unit]")
        self.length = 1 + 3 + self.width * (2 if self.has_tare else 1) + 1 + (1 if self.has_checksum else 0)
        if encode:
            raise where.error("emulator.encode", "toledo-status-words encodes from the parser parameters; remove this table")

    def decode(self, frame: bytes) -> Reading:
        return decode_safely(self._decode, frame)

    def _decode(self, frame: bytes) -> Reading:
        data = bytes(b & 0x7F for b in frame)
        if len(data) != self.length:
            return bad_frame(frame, f"frame length {len(data)}, expected {self.length}")
        cr = 4 + self.width * (2 if self.has_tare else 1)
        if data[0] != 0x02 or data[cr] != 0x0D:
            return bad_frame(frame, "no STX/CR where expected")
        if self.has_checksum and checksum("twos7", data[:cr + 1]) != data[cr + 1]:
            return bad_frame(frame, f"checksum mismatch (frame {data[cr + 1]:02X}, computed {checksum('twos7', data[:cr + 1]):02X})")
        swa, swb, swc = data[1], data[2], data[3]
        if not (swa & swb & swc & 0x20):
            return bad_frame(frame, "status word bit 5 not set (out of sync)")
        decimals = self.dp_table[swa & 0x07]
        negative = bool(swb & 0x02)
        weight = digits_weight(data[4:4 + self.width].decode("latin-1"), decimals, negative)
        tare = digits_weight(data[4 + self.width:cr].decode("latin-1"), decimals) if self.has_tare else None
        code = swc & 0x07
        unit = self.lbkg[(swb >> 4) & 1] if code == 0 else self.units.get(code)
        flags = set()
        if swb & 0x01:
            flags.add("net")
        if negative:
            flags.add("negative")
        if swb & 0x04:
            flags.add("range")
        if swb & 0x08:
            flags.add("motion")
        if swb & 0x40:
            flags.add("zero_error")
        extra = {"increment": {1: 1, 2: 2, 3: 5}.get((swa >> 3) & 3)}
        if swc & 0x10:
            extra["expanded"] = True
        return make_reading(frame, flags, weight, unit, tare=tare, extra=extra)

    # -- encode (emulator) -------------------------------------------------------------------
    def encode(self, state: EmuState, template: str | None = None) -> bytes:
        v = weight_vars(state)
        flags = state_flags(state)
        try:
            dp_code = self.dp_table.index(state.decimals)
        except ValueError:
            dp_code = self.dp_table.index(2) if 2 in self.dp_table else 0
        unit_code = next((c for c, u in self.units.items() if u == state.unit), 0)
        kg = 1 if (unit_code == 0 and state.unit == self.lbkg[1]) else 0
        digits = v["digits"][-self.width:].rjust(self.width, "0")
        if len(v["digits"]) > self.width:
            flags.add("range")
        swa = 0x20 | 0x08 | dp_code
        swb = (0x20 | (1 if "net" in flags else 0) | (2 if v["sign"] == "-" else 0) | (4 if "range" in flags else 0)
               | (8 if "motion" in flags else 0) | (kg << 4))
        swc = 0x20 | unit_code
        body = bytes([0x02, swa, swb, swc]) + digits.encode() + (b"0" * self.width if self.has_tare else b"") + b"\r"
        return body + (bytes([checksum("twos7", body)]) if self.has_checksum else b"")


_ = Decimal  # re-exported type used in docs
