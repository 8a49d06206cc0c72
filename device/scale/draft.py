"""A scale profile drafted from a capture, for a device nobody wrote code for (``packgate device profile new``).

    draft = draft_profile(capture, name="site-scale")   # Draft: the TOML text and what was found
    draft.toml                                           # a line-fields profile, ready to load

How (every step is reported in ``Draft.findings`` so a person can check it):
  1. the bytes: bit 7 set with one parity throughout means 7 data bits with that parity (masked before framing);
  2. the framing: the delimiters (STX..ETX, SOH STX..ETX EOT, CR LF, LF, CR, STX..CR) that cut the most frames of
     one length win;
  3. the fields, column by column over the frames of that length: the longest run of columns whose digits change
     is the weight (widened over the zeros, spaces, point and sign beside them); a constant unit word after it is
     the unit;
     other changing columns are status tokens: known ones (ST/US/OL, S/D, M, ?, GS/NT ...) get their meaning,
     others are kept with no meaning and named in the findings;
  4. two changing hex digits before the end are a checksum when an XOR or a sum over the bytes before them
     matches in every frame (else they are accepted unchecked, and said so);
  5. stability: a token meaning motion gives a stability flag; without one, N equal weights (``repeat``);
  6. the poll: what the sniffer sent, if anything, is the poll command.
Frames of another length are not matched by the draft; they are counted when it is run over the capture.
The emulator side is drafted from the same columns, so the profile loads and its emulator speaks the same frames.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from packgate.device.capture import Capture
from packgate.device.errors import DraftError
from packgate.device.profiles import FramingSpec
from packgate.device.scale.framing import ScaleFramer
from packgate.device.scale.reading import GRAMS_PER_UNIT

FRAMINGS: tuple[tuple[bytes, bytes], ...] = (
    (b"\x01\x02", b"\x03\x04"), (b"\x02", b"\x03"), (b"", b"\r\n"), (b"\x02", b"\r"), (b"", b"\n"), (b"", b"\r"))
NUMERIC = frozenset("0123456789. +-")
#: status tokens met in the profiles' protocols -> their flags
TOKENS: dict[str, tuple[str, ...]] = {
    "ST": (), "S": (), "QT": (), "WT": (), "US": ("motion",), "U": ("motion",), "SD": ("motion",),
    "D": ("motion",), "M": ("motion",), "m": ("motion",), "?": ("motion",), "OL": ("overload",), "O": ("range",),
    "o": ("range",), "F": ("range",), "I": ("error",), "E": ("error",), "Z": ("zero",), "": (),
}
NET_TOKENS = {"GS": False, "GW": False, "NT": True, "G": False, "N": True, "g": False, "n": True, "GR": False}
UNIT_WORDS = ("kg", "lb", "oz", "g", "t")


@dataclass
class Draft:
    name: str
    toml: str
    findings: list[str] = field(default_factory=list)


def _parity(data: bytes) -> str | None:
    """"E"/"O" when every byte has that parity over 8 bits and some have bit 7 set; else None."""
    if not any(b & 0x80 for b in data):
        return None
    ones = {bin(b).count("1") % 2 for b in data}
    return {frozenset({0}): "E", frozenset({1}): "O"}.get(frozenset(ones))


def _frames(data: bytes) -> tuple[bytes, bytes, list[bytes]]:
    best: tuple[int, int, bytes, bytes, list[bytes]] | None = None
    for rank, (start, end) in enumerate(FRAMINGS):
        frames = ScaleFramer(FramingSpec(start=start, end=end, max_length=256)).feed(data)
        if not frames:
            continue
        length, count = Counter(len(f) for f in frames).most_common(1)[0]
        if length <= len(start) + len(end) + 1:
            continue
        key = (count, -rank)
        if best is None or key > (best[0], best[1]):
            best = (count, -rank, start, end, [f for f in frames if len(f) == length])
    if best is None or best[0] < 2:
        raise DraftError("no two frames of one length under any of the usual delimiters (STX..ETX, SOH STX..ETX EOT, "
                         "CR LF, LF, CR, STX..CR): record longer, or check the baud rate and data bits")
    return best[2], best[3], best[4]


def _span(columns: list[set[str]], body: range) -> tuple[int, int] | None:
    """The weight's columns: the longest run of changing digit columns (the first of equal ones; a run ends at a
    column that is not a digit, space, point or sign, so a checksum after the unit that happened to stay in 0-9 is
    not taken for more weight), widened over the zeros, spaces, point and sign beside it."""
    changing = [i for i in body if len(columns[i]) > 1 and columns[i] <= NUMERIC and columns[i] & set("0123456789")]
    if not changing:
        changing = [i for i in body if columns[i] <= set("0123456789") and columns[i]]
        if not changing:
            return None
    runs: list[list[int]] = []
    for i in changing:
        if runs and all(columns[k] <= NUMERIC for k in range(runs[-1][-1] + 1, i)):
            runs[-1].append(i)
        else:
            runs.append([i])
    longest = max(runs, key=len)
    lo, hi = longest[0], longest[-1]
    while lo - 1 in body and columns[lo - 1] <= NUMERIC:
        lo -= 1
    while hi + 1 in body and columns[hi + 1] <= set("0123456789."):
        hi += 1
    return lo, hi


def _checksum(frames: list[bytes], at: int) -> tuple[str, int] | None:
    """(kind, first byte) of a two-hex-digit XOR or sum at ``at`` that every frame verifies, else None."""
    from packgate.device.scale.parsers.common import checksum

    for kind in ("xor", "sum8"):
        for first in range(0, min(3, at)):
            if all(f"{checksum(kind, f[first:at]):02X}" == f[at:at + 2].decode("latin-1").upper() for f in frames):
                return kind, first
    return None


def _esc(text: str) -> str:
    """A regex literal that survives TOML: control bytes as \\xNN."""
    out = []
    for ch in text:
        if ord(ch) < 0x20 or ord(ch) >= 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ch in ".^$*+?{}[]\\|()":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _toml(text: str) -> str:
    """A TOML basic string."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ord(ch) < 0x20 or ord(ch) >= 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _template_literal(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def draft_profile(capture: Capture, name: str, *, unit: str | None = None, decimals: int = 0,
                  source: str = "") -> Draft:
    data = capture.data("rx")
    if not data:
        raise DraftError("the capture holds no bytes from the device")
    findings: list[str] = []
    parity = _parity(data)
    bytesize = 7 if parity or capture.serial.get("bytesize") == 7 else 8
    parity = parity or (str(capture.serial.get("parity", "N"))[:1].upper() if bytesize == 7 else "N")
    if bytesize == 7:
        data = bytes(b & 0x7F for b in data)
        findings.append(f"7 data bits, parity {parity} (bit 7 carried the parity)")
    start, end, frames = _frames(data)
    findings.append(f"framing: start {start!r}, end {end!r}: {len(frames)} frames of {len(frames[0])} bytes")
    texts = [f.decode("latin-1") for f in frames]
    length = len(texts[0])
    columns = [{t[i] for t in texts} for i in range(length)]
    body = range(len(start), length - len(end))
    span = _span(columns, body)
    if span is None:
        raise DraftError("no column of digits in the frames: the weight may be binary or BCD (write the profile by hand)")
    lo, hi = span
    weights = [t[lo:hi + 1] for t in texts]
    has_point = any("." in w for w in weights)
    shown_decimals = max((len(w.strip().split(".")[1]) for w in weights if "." in w), default=decimals)
    findings.append(f"weight: bytes {lo + 1}-{hi + 1} ({weights[0]!r} ... {weights[-1]!r})"
                    + ("" if has_point else f", no decimal point: {decimals} implied decimal(s) (--decimals)"))

    pattern: list[str] = []
    template: dict[str, list[str]] = {"ok": [], "motion": [], "overload": []}
    flags_table: dict[str, tuple[str, ...]] = {}
    net_tokens: list[str] = []
    found_unit: str | None = None
    motion_seen = False
    checksum: tuple[str, int, int] | None = None
    chk_at = length - len(end) - 2  # a checksum sits right before the end delimiter, if anywhere
    verified = _checksum(frames, chk_at) if chk_at > hi and all(
        re.fullmatch(r"[0-9A-Fa-f]{2}", t[chk_at:chk_at + 2]) for t in texts) else None
    if verified:
        checksum = (verified[0], verified[1], chk_at)
        findings.append(f"bytes {chk_at + 1}-{chk_at + 2}: checksum, {verified[0]} of bytes {verified[1] + 1}-{chk_at} "
                        "as two hex digits")
    else:
        chk_at = -1
    groups = 0
    i = 0
    while i < length:
        if i == chk_at:
            pattern.append("[0-9A-Fa-f]{2}")
            for key in template:
                template[key].append("{chk}")
            i += 2
            continue
        if i == lo:
            width = hi - lo + 1
            group = "weight" if has_point else "digits"
            chars = "".join(sorted(set("".join(weights)) | {" "}))
            pattern.append(f"(?P<{group}>[{_esc(chars).replace('-', chr(92) + '-')}]{{{width}}})")
            zeros = any(w.lstrip(" +-").startswith("0") and len(w.strip(" +-")) > 1 and w.strip(" +-")[1] != "."
                        for w in weights)
            value = ("{abs:0>%d}" if zeros else "{abs:>%d}") % width if not any(c in "+-" for w in weights for c in w) \
                else ("{sign}{abs:0>%d}" if zeros else "{sign_sp}{abs:>%d}") % (width - 1)
            if not has_point:
                value = "{digits:0>%d}" % width
            for key in template:
                template[key].append(value)
            i = hi + 1
            continue
        if len(columns[i]) == 1:
            j = i
            while j < length and j not in (lo, chk_at) and len(columns[j]) == 1:
                j += 1
            literal = texts[0][i:j]
            words = re.findall(r"[A-Za-z]+", literal)
            if found_unit is None and i > hi and words and words[0].lower() in UNIT_WORDS:
                found_unit = words[0].lower()
            pattern.append(_esc(literal))
            for key in template:
                template[key].append(_template_literal(literal))
            i = j
            continue
        j = i
        while j < length and j not in (lo, chk_at) and len(columns[j]) > 1:
            j += 1
        tokens = sorted({t[i:j] for t in texts})
        if all(re.fullmatch(r"[0-9A-Fa-f]+", tok) for tok in tokens) and any(tok not in TOKENS for tok in tokens):
            pattern.append(f"[0-9A-Fa-f]{{{j - i}}}")
            for key in template:
                template[key].append(_template_literal(tokens[0]))
            findings.append(f"bytes {i + 1}-{j}: hex digits that change like a checksum, but no XOR or sum over the "
                            "bytes before them matches: not checked (set parser.checksum by hand)")
            i = j
            continue
        stripped = {tok: tok.strip() for tok in tokens}
        groups += 1
        if all(s in NET_TOKENS for s in stripped.values()):
            group = "net"
            net_tokens += [s for s in stripped.values() if NET_TOKENS[s]]
            gross = next((tok for tok in tokens if not NET_TOKENS[tok.strip()]), tokens[0])
            for key in template:
                template[key].append(_template_literal(gross))
            findings.append(f"bytes {i + 1}-{j}: gross/net {tokens}")
        else:
            group = "flag" if "flag" not in "".join(pattern) else f"flag{groups}"
            unknown = [tok for tok, s in stripped.items() if s not in TOKENS]
            for tok, s in stripped.items():
                flags_table[tok] = TOKENS.get(s, ())
            motion = [tok for tok, s in stripped.items() if TOKENS.get(s) == ("motion",)]
            stable = [tok for tok, s in stripped.items() if TOKENS.get(s) == ()] or tokens
            over = [tok for tok, s in stripped.items() if TOKENS.get(s) in (("overload",), ("range",))]
            motion_seen = motion_seen or bool(motion)
            template["ok"].append(_template_literal(stable[0]))
            template["motion"].append(_template_literal(motion[0] if motion else stable[0]))
            template["overload"].append(_template_literal(over[0] if over else stable[0]))
            findings.append(f"bytes {i + 1}-{j}: status tokens {tokens}"
                            + (f"; no known meaning for {unknown}: read as stable, set parser.flags" if unknown else ""))
        pattern.append(f"(?P<{group}>" + "|".join(_esc(tok) for tok in tokens) + ")")
        i = j

    chosen_unit = unit or found_unit
    if chosen_unit is None:
        raise DraftError("no unit word (kg, g, lb, oz, t) after the weight: give --unit")
    if chosen_unit not in GRAMS_PER_UNIT:
        raise DraftError(f"unit {chosen_unit!r} is not one of {', '.join(GRAMS_PER_UNIT)}")
    findings.append(f"unit: {chosen_unit}" + (" (given)" if unit else " (in every frame)"))
    findings.append("stability: the frame's status token" if motion_seen else
                    "stability: no motion token, so 3 equal weights in a row are stable (stability.repeat)")
    sent = Counter(capture.sent()).most_common(1)
    command = sent[0][0] if sent else b""
    findings.append(f"poll: the sniffer sent {command!r}" if command else "poll: the device streams by itself")
    return Draft(name, _compose(name, capture, source, bytesize, parity, command, start, end, "".join(pattern),
                                flags_table, net_tokens, chosen_unit, decimals, has_point, motion_seen,
                                shown_decimals, template, checksum), findings)


def _compose(name: str, capture: Capture, source: str, bytesize: int, parity: str, command: bytes, start: bytes,
             end: bytes, pattern: str, flags_table: dict[str, tuple[str, ...]], net_tokens: list[str], unit: str,
             decimals: int, has_point: bool, motion_seen: bool, shown_decimals: int,
             template: dict[str, list[str]], checksum: tuple[str, int, int] | None) -> str:
    baud = int(capture.serial.get("baudrate", 9600))
    lines = [f"# Drafted by `packgate device profile new` from {source or 'a capture'}: check it against the device.",
             f"name = {_toml(name)}", 'kind = "scale"', 'vendor = "site draft"', f"models = [{_toml(name)}]",
             f"sources = [{_toml('capture ' + (source or '?') + ' recorded ' + capture.started + ' on ' + capture.port)}]",
             f"notes = {_toml('Drafted from a capture; read the findings of profile new, then fix what it guessed.')}",
             "", "[serial]", f"baudrate = {baud}", f"bytesize = {bytesize}", f"parity = {_toml(parity)}", "stopbits = 1",
             "", "[poll]"]
    lines += ['mode = "poll"', f"command = {_toml(command.decode('latin-1'))}", "interval = 0.5"] if command \
        else ['mode = "stream"']
    lines += ["", "[framing]", f"start = {_toml(start.decode('latin-1'))}", f"end = {_toml(end.decode('latin-1'))}",
              "max_length = 128", "", "[parser]", 'kind = "line-fields"', f"pattern = {_toml(pattern)}",
              f"unit = {_toml(unit)}"]
    if flags_table:
        lines.append("flags = { " + ", ".join(f"{_toml(tok)} = [{', '.join(_toml(f) for f in flags)}]"
                                              for tok, flags in flags_table.items()) + " }")
    if net_tokens:
        lines.append(f"net_tokens = [{', '.join(_toml(t) for t in net_tokens)}]")
    if not has_point:
        lines.append(f"decimals = {decimals}")
    if checksum:
        lines.append(f'checksum = {{ kind = "{checksum[0]}", start = {checksum[1]}, end = {checksum[2]}, format = "hex2" }}')
    if not motion_seen:
        lines += ["stability_flag = false", "", "[stability]", 'mode = "repeat"', "repeat = 3"]
    emu_decimals = shown_decimals if has_point else decimals
    lines += ["", "[emulator]", f"unit = {_toml(unit)}", f"decimals = {emu_decimals}", 'capacity_g = "30000"']
    if command:
        text = command.decode("latin-1")
        terminated = text.endswith(("\r", "\n"))
        lines += [f"commands = {{ {_toml(text.strip() or text)} = \"weight\" }}",
                  f"command_terminated = {str(terminated).lower()}"]
    lines += ["", "[emulator.encode]"]
    for key in ("ok", "motion", "overload") if motion_seen else ("ok",):
        lines.append(f"{key} = {_toml(''.join(template[key]))}")
    return "\n".join(lines) + "\n"
