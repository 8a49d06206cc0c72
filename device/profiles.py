"""Firmware profiles: one TOML file per device model or family, validated when loaded.

A profile is data: serial defaults, how to poll (or that the device streams),
framing, a generic parser *kind* with its parameters, stability rules and the
emulator's side of the same protocol. ``load_profiles(path)`` reads every
``*.toml`` in a directory, resolves ``inherits`` (deep merge, child wins),
checks the result and returns frozen dataclasses; any problem raises
``ProfileError`` naming the file and the key.

Two directories: the bundled profiles (``default_profiles_dir``: replaced by every upgrade) and the site's own
(``user_profiles_dir``: the station's ``profiles.user_dir``, else ``$PACKGATE_USER_PROFILES``, else
``$XDG_CONFIG_HOME/packgate/profiles``; nothing of packgate ever writes there but ``device profile new``). The
site's are searched first: a site profile named like a bundled one replaces it, and may inherit any bundled
profile of another name. Every profile says where it came from (``origin``: "user" or "bundled").

Rules (see also tests/device/test_profiles_lint.py):
  * one profile per file, ``name`` equal to the file stem;
  * ``name``, ``kind``, ``vendor``, ``notes``, ``models`` in every concrete profile; ``sources`` (optional) lists
    where the protocol facts come from (manual pages, public driver code), shown with the profile;
  * ``inherits`` must name an existing profile and must not form a cycle;
  * ``abstract = true`` profiles are only bases: validated through their children, not listed;
  * for ``kind = "scale"``: ``serial``, ``poll``, ``framing``, ``parser`` after merging, and
    the parser kind's own required keys (each kind checks its parameters);
  * a scale's division (``division``, grams): ``[weighing] division`` ("2", or "6000:2,15000:5" for a
    multi-interval scale: up to 6 kg by 2 g, above by 5 g), else the step of the readings its frames carry (the
    ``[emulator]`` unit and decimals: kg with 2 decimals is 10 g), never finer than 1 g there (a balance's 0.01 g
    frames still judge parcels by the gram; a finer division is written out); the station's gate and per-item
    check use it;
  * for ``kind = "printer"`` and ``kind = "label"``: see device.printer_spec (language, transports,
    status query and its decoding; a label template's language, size and placeholders).
"""
from __future__ import annotations

import os
import sys
import threading
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from packgate.device.scale.parsers.common import ScaleCodec

from packgate.device.errors import ProfileError
from packgate.device.printer.spec import LabelTemplate, PrinterSpec, build_printer, build_template
from packgate.device.profile_keys import Where

COMMON_REQUIRED = ("name", "kind", "vendor", "notes", "models")
SCALE_SECTIONS = ("serial", "poll", "framing", "parser")
KNOWN_KINDS = ("scale", "scanner", "badge", "printer", "label")  # scale, printer and label validated in depth


_user_dir_override: Path | None = None  # the station's profiles.user_dir (use_user_dir)


def use_user_dir(path: str | os.PathLike | None) -> None:
    """The site's profile directory for this process (the station's ``profiles.user_dir``); None: the default."""
    global _user_dir_override
    _user_dir_override = Path(path) if path else None


def user_profiles_dir() -> Path | None:
    """The site's own profiles: ``use_user_dir``, else $PACKGATE_USER_PROFILES (set but empty: none), else
    $XDG_CONFIG_HOME/packgate/profiles (~/.config/packgate/profiles)."""
    if _user_dir_override is not None:
        return _user_dir_override
    env = os.environ.get("PACKGATE_USER_PROFILES")
    if env is not None:
        return Path(env) if env else None
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "packgate" / "profiles"


def default_profiles_dir() -> Path:
    """The bundled profiles: $PACKGATE_PROFILES, else <checkout>/firmware-profiles, else
    <prefix>/share/packgate/firmware-profiles."""
    env = os.environ.get("PACKGATE_PROFILES")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent / "firmware-profiles"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "packgate" / "firmware-profiles"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class SerialDefaults:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    xonxoff: bool = False
    rtscts: bool = False
    dsrdtr: bool = False

    @property
    def seven_bit(self) -> bool:
        return self.bytesize == 7

    @property
    def label(self) -> str:
        stop = int(self.stopbits) if float(self.stopbits).is_integer() else self.stopbits
        hs = "xonxoff" if self.xonxoff else "rtscts" if self.rtscts else "dsrdtr" if self.dsrdtr else "none"
        return f"{self.baudrate} {self.bytesize}{self.parity}{stop} handshake={hs}"

    def as_kwargs(self) -> dict:
        return {"baudrate": self.baudrate, "bytesize": self.bytesize, "parity": self.parity,
                "stopbits": self.stopbits, "xonxoff": self.xonxoff, "rtscts": self.rtscts, "dsrdtr": self.dsrdtr}

    def as_dict(self) -> dict:
        return dict(self.as_kwargs(), label=self.label)


@dataclass(frozen=True)
class PollSpec:
    mode: str  # "poll" or "stream"
    command: bytes = b""  # sent every ``interval`` s when mode == "poll"
    interval: float = 0.5
    start_command: bytes = b""  # sent once after opening (e.g. MT-SICS "SIR" to start streaming)
    stop_command: bytes = b""


@dataclass(frozen=True)
class FramingSpec:
    start: bytes = b""
    end: bytes = b""
    trailer: int = 0  # bytes after ``end`` that belong to the frame (a checksum)
    length: int = 0  # fixed total length (0 = variable)
    max_length: int = 128
    resync_on_start: bool = True  # a start byte inside a frame body begins a new frame
    literal_after: bytes = b""  # a start byte right after this byte is data (Toledo "?" + raw status 0x02)
    until_next_start: bool = False  # no terminator: a frame runs up to the next start byte (variable length)


@dataclass(frozen=True)
class StabilitySpec:
    mode: str = "flag"  # "flag": the frame says; "repeat": N equal consecutive weights
    repeat: int = 3
    promote_motion: bool = False  # also promote frames flagged "motion" after N equal (MT-SICS fallback)


@dataclass(frozen=True)
class EmulatorSpec:
    unit: str
    decimals: int
    capacity_g: str
    commands: Mapping[str, str]  # host command -> action: weight | stable | stream | stop | status | text:<reply>
    unknown: bytes  # reply to an unknown command
    command_terminated: bool  # commands end with CR/LF; False: single letters (Toledo "W")
    stream_interval: float
    encode: Mapping[str, Any]
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> encode overrides


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    vendor: str
    models: tuple[str, ...]
    notes: str
    source: str  # the file it was loaded from
    data: Mapping[str, Any]  # the merged TOML, frozen
    serial: SerialDefaults | None = None
    poll: PollSpec | None = None
    framing: FramingSpec | None = None
    parser_kind: str | None = None
    parser: Mapping[str, Any] | None = None
    stability: StabilitySpec | None = None
    emulator: EmulatorSpec | None = None
    inherits: str | None = None
    codec: ScaleCodec | None = field(default=None, compare=False, repr=False)  # built from parser + encode
    printer: PrinterSpec | None = None
    template: LabelTemplate | None = None
    variant_codecs: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    origin: str = "bundled"  # "user": from the site's own profile directory
    division: str | None = None  # a scale's division in grams: "2", or "6000:2,15000:5" (limit:division pairs)

    def emulator_codec(self, variant: str | None = None) -> Any:
        """The codec whose encoder speaks ``variant`` (``[emulator.variants.<name>]``); None: the profile's own."""
        if variant is None:
            return self.codec
        try:
            return self.variant_codecs[variant]
        except KeyError:
            have = ", ".join(sorted(self.variant_codecs)) or "none"
            raise ProfileError(f"{self.source}: key 'emulator.variants': no variant {variant!r} (have: {have})") from None

    def summary(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "vendor": self.vendor, "models": list(self.models),
               "notes": self.notes, "file": Path(self.source).name, "origin": self.origin}
        if self.data.get("sources"):
            out["sources"] = list(self.data["sources"])
        if self.serial is not None:
            out["serial"] = self.serial.as_dict()
        if self.poll is not None:
            out["mode"] = self.poll.mode
            if self.poll.mode == "poll":
                out["poll"] = {"command": self.poll.command.decode("latin-1"), "interval_s": self.poll.interval}
        if self.parser_kind:
            out["parser"] = self.parser_kind
        if self.stability is not None:
            out["stability"] = self.stability.mode
        if self.division is not None:
            out["division_g"] = self.division
        if self.printer is not None:
            out.update(language=self.printer.language, dpi=self.printer.dpi, transports=list(self.printer.transports),
                       tcp_port=self.printer.tcp_port, status_query=self.printer.status.query.decode("latin-1"))
        if self.template is not None:
            out.update(language=self.template.language, size_mm=self.template.size, fields=list(self.template.fields))
        return out


def _merge(base: Mapping, child: Mapping) -> dict:
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_raw(directory: Path) -> dict[str, tuple[Path, dict]]:
    raw: dict[str, tuple[Path, dict]] = {}
    files = sorted(directory.glob("*.toml"))
    for path in files:
        try:
            with path.open("rb") as fh:
                doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"{path}: key '(syntax)': {exc}") from exc
        where = Where(str(path))
        name = doc.get("name")
        if not isinstance(name, str):
            raise where.error("name", "missing (one profile per file, named like the file)")
        if name != path.stem:
            raise where.error("name", f"{name!r} does not match the file name {path.stem!r}")
        raw[name] = (path, doc)
    return raw


def _resolve(name: str, raw: dict[str, tuple[Path, dict]], chain: tuple[str, ...] = ()) -> dict:
    path, doc = raw[name]
    if name in chain:
        raise ProfileError(f"{path}: key 'inherits': circular inheritance {' -> '.join(chain + (name,))}")
    parent = doc.get("inherits")
    if parent is None:
        return dict(doc)
    if not isinstance(parent, str) or parent not in raw:
        raise ProfileError(f"{path}: key 'inherits': unknown profile {parent!r}")
    merged = _merge(_resolve(parent, raw, chain + (name,)), doc)
    merged.pop("abstract", None)
    if doc.get("abstract"):
        merged["abstract"] = True
    return merged


def _build(name: str, path: Path, doc: dict) -> Profile:
    where = Where(str(path))
    for key in COMMON_REQUIRED:
        if key not in doc:
            raise where.error(key, "missing (after merging inherits)")
    kind = where.get(doc, "kind", str, "")
    if not kind:
        raise where.error("kind", f"must be a non-empty string such as {', '.join(KNOWN_KINDS)}")
    vendor = where.get(doc, "vendor", str, "")
    notes = where.get(doc, "notes", str, "")
    models = where.get(doc, "models", list, "")
    if not models or not all(isinstance(m, str) and m for m in models):
        raise where.error("models", "must be a non-empty list of strings")
    sources = where.get(doc, "sources", list, "", [])
    if not all(isinstance(s, str) and s for s in sources):
        raise where.error("sources", "must be a list of strings (manual pages, public driver code)")
    common = dict(name=name, kind=kind, vendor=vendor, models=tuple(models), notes=notes, source=str(path),
                  data=_freeze(doc), inherits=doc.get("inherits"))
    if kind != "scale":
        serial = _serial(where, doc["serial"]) if isinstance(doc.get("serial"), Mapping) else None
        if kind == "printer":
            return Profile(serial=serial, printer=build_printer(where, doc), **common)
        if kind == "label":
            return Profile(serial=serial, template=build_template(where, doc), **common)
        return Profile(serial=serial, **common)
    for section in SCALE_SECTIONS:
        if not isinstance(doc.get(section), Mapping):
            raise where.error(section, "missing table (after merging inherits)")
    serial = _serial(where, doc["serial"])
    poll = _poll(where, doc["poll"])
    framing = _framing(where, doc["framing"])
    stability = _stability(where, doc.get("stability", {}))
    emulator = _emulator(where, doc.get("emulator", {}), poll)
    parser = doc["parser"]
    parser_kind = where.get(parser, "kind", str, "parser")
    from packgate.device.scale.parsers import build_codec  # local import: parsers import profiles' helpers

    codec = build_codec(parser_kind, _freeze(parser), emulator.encode, serial, where)
    variant_codecs = {v: build_codec(parser_kind, _freeze(parser), _freeze(_merge(emulator.encode, overrides)), serial, where)
                      for v, overrides in emulator.variants.items()}
    return Profile(serial=serial, poll=poll, framing=framing, parser_kind=parser_kind, parser=_freeze(parser),
                   stability=stability, emulator=emulator, codec=codec, variant_codecs=MappingProxyType(variant_codecs),
                   division=_division(where, doc.get("weighing", {}), emulator), **common)


def _division(where: Where, t: Any, emulator: EmulatorSpec) -> str:
    """The scale's division in grams (see the module docstring): ``[weighing] division`` checked (divisions > 0,
    limits and divisions ascending, the last range without a limit), else the step of the emulated frames (>= 1 g)."""
    from decimal import Decimal, InvalidOperation

    from packgate.device.scale.reading import GRAMS_PER_UNIT

    if not isinstance(t, Mapping):
        raise where.error("weighing", "must be a table")
    text = where.get(t, "division", str, "weighing", "")
    if not text:
        step = GRAMS_PER_UNIT.get(emulator.unit.lower(), Decimal(1)) * Decimal(1).scaleb(-emulator.decimals)
        return format(max(step, Decimal(1)).normalize(), "f")
    problem = "write a division in grams (\"2\") or limit:division pairs, ascending (\"6000:2,15000:5\")"
    try:
        pairs = [[Decimal(x) for x in part.split(":")] for part in text.split(",")]
    except InvalidOperation:
        raise where.error("weighing.division", problem) from None
    divisions = [p[-1] for p in pairs]
    limits = [p[0] for p in pairs if len(p) == 2]
    if any(len(p) not in (1, 2) for p in pairs) or any(len(p) != 2 for p in pairs[:-1]) or \
            any(not d.is_finite() or d <= 0 for d in divisions) or divisions != sorted(divisions) or limits != sorted(limits):
        raise where.error("weighing.division", problem)
    return text


def _serial(where: Where, t: Mapping) -> SerialDefaults:
    p = "serial"
    s = SerialDefaults(
        baudrate=where.get(t, "baudrate", int, p),
        bytesize=where.get(t, "bytesize", int, p, 8),
        parity=where.get(t, "parity", str, p, "N").upper(),
        stopbits=where.get(t, "stopbits", (int, float), p, 1),
        xonxoff=where.get(t, "xonxoff", bool, p, False),
        rtscts=where.get(t, "rtscts", bool, p, False),
        dsrdtr=where.get(t, "dsrdtr", bool, p, False),
    )
    if s.baudrate not in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
        raise where.error("serial.baudrate", f"unusual baud rate {s.baudrate}")
    if s.bytesize not in (7, 8):
        raise where.error("serial.bytesize", "must be 7 or 8")
    if s.parity not in ("N", "E", "O"):
        raise where.error("serial.parity", "must be N, E or O")
    if s.stopbits not in (1, 1.5, 2):
        raise where.error("serial.stopbits", "must be 1, 1.5 or 2")
    return s


def _poll(where: Where, t: Mapping) -> PollSpec:
    p = "poll"
    mode = where.get(t, "mode", str, p)
    if mode not in ("poll", "stream"):
        raise where.error("poll.mode", "must be 'poll' or 'stream'")
    spec = PollSpec(mode=mode, command=where.bytes_of(t, "command", p), interval=where.get(t, "interval", float, p, 0.5),
                    start_command=where.bytes_of(t, "start_command", p), stop_command=where.bytes_of(t, "stop_command", p))
    if mode == "poll" and not spec.command:
        raise where.error("poll.command", "required when mode = 'poll'")
    if spec.interval <= 0:
        raise where.error("poll.interval", "must be > 0")
    return spec


def _framing(where: Where, t: Mapping) -> FramingSpec:
    p = "framing"
    spec = FramingSpec(start=where.bytes_of(t, "start", p), end=where.bytes_of(t, "end", p),
                       trailer=where.get(t, "trailer", int, p, 0), length=where.get(t, "length", int, p, 0),
                       max_length=where.get(t, "max_length", int, p, 128),
                       resync_on_start=where.get(t, "resync_on_start", bool, p, True),
                       literal_after=where.bytes_of(t, "literal_after", p),
                       until_next_start=where.get(t, "until_next_start", bool, p, False))
    if spec.until_next_start and (not spec.start or spec.end or spec.length):
        raise where.error("framing.until_next_start", "needs a start byte and neither end nor length")
    if not spec.end and not spec.length and not spec.until_next_start:
        raise where.error("framing.end", "a frame needs an end delimiter, a fixed length or until_next_start")
    if spec.length and not spec.start and not spec.end:
        raise where.error("framing.start", "a fixed-length frame needs a start or end byte to synchronise on")
    if spec.trailer and not spec.end:
        raise where.error("framing.trailer", "only meaningful with an end delimiter")
    if spec.max_length < max(spec.length, 4) or spec.max_length > 4096:
        raise where.error("framing.max_length", "must be >= length and <= 4096")
    return spec


def _stability(where: Where, t: Mapping) -> StabilitySpec:
    p = "stability"
    spec = StabilitySpec(mode=where.get(t, "mode", str, p, "flag"), repeat=where.get(t, "repeat", int, p, 3),
                         promote_motion=where.get(t, "promote_motion", bool, p, False))
    if spec.mode not in ("flag", "repeat"):
        raise where.error("stability.mode", "must be 'flag' or 'repeat'")
    if spec.repeat < 1:
        raise where.error("stability.repeat", "must be >= 1")
    return spec


def _emulator(where: Where, t: Mapping, poll: PollSpec) -> EmulatorSpec:
    p = "emulator"
    commands = where.get(t, "commands", Mapping, p, {})
    actions = ("weight", "stable", "stream", "stop", "status")
    for cmd, action in commands.items():
        if not isinstance(action, str) or not (action in actions or action.startswith("text:")):
            raise where.error(f"emulator.commands.{cmd}", f"action must be one of {actions} or 'text:<reply>'")
    if poll.mode == "poll" and not commands:
        raise where.error("emulator.commands", "a polled protocol's emulator must answer at least the poll command")
    unit = where.get(t, "unit", str, p, "kg")
    decimals = where.get(t, "decimals", int, p, 3)
    if not 0 <= decimals <= 6:
        raise where.error("emulator.decimals", "must be 0..6")
    from decimal import Decimal, InvalidOperation

    capacity = where.get(t, "capacity_g", str, p, "30000")
    try:
        Decimal(capacity)
    except InvalidOperation as exc:
        raise where.error("emulator.capacity_g", "must be a decimal string") from exc
    variants = where.get(t, "variants", Mapping, p, {})
    for v, overrides in variants.items():
        if not isinstance(overrides, Mapping):
            raise where.error(f"emulator.variants.{v}", "must be a table of encode templates")
    return EmulatorSpec(unit=unit, decimals=decimals, capacity_g=capacity, commands=_freeze(dict(commands)),
                        variants=_freeze(dict(variants)),
                        unknown=where.bytes_of(t, "unknown", p), command_terminated=where.get(t, "command_terminated", bool, p, True),
                        stream_interval=where.get(t, "stream_interval", float, p, 0.1),
                        encode=_freeze(dict(where.get(t, "encode", Mapping, p, {}))))


def _site_dir(user: bool | str | os.PathLike) -> Path | None:
    if user is False:
        return None
    directory = user_profiles_dir() if user is True else Path(user)
    return directory if directory is not None and directory.is_dir() else None


def load_profiles(path: str | os.PathLike | None = None, kind: str | None = None, *,
                  user: bool | str | os.PathLike = True) -> dict[str, Profile]:
    """Load, merge and validate every profile in ``path`` (the bundled directory if None) and, searched first, the
    site's own (``user``: True = ``user_profiles_dir()``, a path, or False); abstract bases are left out."""
    directory = Path(path) if path is not None else default_profiles_dir()
    if not directory.is_dir():
        raise ProfileError(f"{directory}: key '(directory)': no such profiles directory")
    raw = _read_raw(directory)
    site = _site_dir(user)
    mine = _read_raw(site) if site is not None else {}
    for name, (path_, doc) in mine.items():
        if doc.get("inherits") == name:
            raise ProfileError(f"{path_}: key 'inherits': a site profile cannot inherit the bundled profile of its own "
                               f"name; give it a name of its own (e.g. {name}-site) and pick that one")
    raw.update(mine)
    profiles: dict[str, Profile] = {}
    for name, (path_, _doc) in raw.items():
        merged = _resolve(name, raw)
        if merged.get("abstract"):
            continue
        profile = _build(name, path_, merged)
        if name in mine:
            profile = replace(profile, origin="user")
        if kind is None or profile.kind == kind:
            profiles[name] = profile
    return profiles


_cache: dict[tuple[str, str], dict[str, Profile]] = {}
_cache_lock = threading.Lock()


def get_profile(name: str, path: str | os.PathLike | None = None) -> Profile:
    """One profile by name from ``path`` (bundled directory if None) and the site's directory; cached per pair."""
    bundled = str(Path(path) if path is not None else default_profiles_dir())
    key = (bundled, str(_site_dir(True) or ""))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_profiles(bundled)
        profiles = _cache[key]
    try:
        return profiles[name]
    except KeyError:
        raise ProfileError(f"{bundled}: key 'name': no profile named {name!r} (have: {', '.join(sorted(profiles))})") from None


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
