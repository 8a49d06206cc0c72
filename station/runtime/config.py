"""``packgate.toml``: one file, every option with a default that works for the demo.

The schema is a table (``SCHEMA``): dotted key -> (type, default, check). Loading validates every key and every
value and reports every problem at once (``ConfigError.problems``, one line each, each naming its key): three
mistakes are one run of ``packgate config check``, not three. A key that belongs to a device's firmware profile
(``scale.baud``) says so. What is printed never shows a secret whole: tokens and the secret parts of URLs
(passwords, keys in a host or path) are masked (``mask_url``), and Apprise's own log lines stay out of the check.
"""
from __future__ import annotations

import difflib
import logging
import re
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from packgate.device.scanner.barcode import SitePatterns
from packgate.station.core.resolution import Resolution
from packgate.station.errors import ConfigError
from packgate.sync.common.http import ca_file_problem, mixed_schemes
from packgate.sync.common.settings import flatten, toml_value, type_name

Check = Callable[[Any], str | None]


def _one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)} (got {v!r})"


def _resolution(v: str) -> str | None:
    if not v.strip():
        return None  # from the scale's firmware profile
    try:
        Resolution.parse(v)
    except ConfigError as exc:
        return str(exc)
    return None


def _port_number(v: int) -> str | None:
    return None if 0 <= v <= 65535 else f"must be a TCP port 0-65535 (got {v})"


def _positive(v: float) -> str | None:
    return None if v > 0 else f"must be greater than 0 (got {v})"


def _non_negative(v: float) -> str | None:
    return None if v >= 0 else f"must be 0 or more (got {v})"


def _percent(v: float) -> str | None:
    return None if 0 < v < 100 else f"must be a percentage between 0 and 100 (got {v})"


def _station_code(v: str) -> str | None:
    if not v or not v.replace("-", "").isalnum() or len(v) > 16:
        return f"must be 1-16 letters, digits or '-' (got {v!r})"
    return None


def _url(v: str | list) -> str | None:
    urls = v if isinstance(v, list) else [v]
    if not urls:
        return "must name at least one URL"
    bad = [u for u in urls if not isinstance(u, str) or not u.startswith(("http://", "https://"))]
    if bad:
        return f"must start with http:// or https:// (got {mask_url(bad[0]) if isinstance(bad[0], str) else bad[0]!r})"
    return mixed_schemes(urls)


def _ca_file(v: str) -> str | None:
    return None if v == "" else ca_file_problem(v)


def _decimal_table(v: dict) -> str | None:
    for name, pct in v.items():
        try:
            value = Decimal(str(pct))
        except InvalidOperation:
            return f"value for {name!r} must be a number (got {pct!r})"
        if not 0 < value < 100:
            return f"value for {name!r} must be a percentage between 0 and 100 (got {pct})"
    return None


def _names(v: list) -> str | None:
    bad = [x for x in v if not isinstance(x, str) or not x.strip() or len(x) > 64]
    return f"every entry must be a short non-empty text (bad: {', '.join(repr(x) for x in bad[:3])})" if bad else None


def _carrier_table(v: dict) -> str | None:
    from packgate.station.core.carrier_rules import CarrierRule
    from packgate.station.errors import ReferenceDataError

    for name, row in v.items():
        if not isinstance(row, dict):
            return f"{name!r} must be a table (suspended_regions, daily_cap, backup, reason)"
        unknown = set(row) - {"suspended_regions", "daily_cap", "backup", "reason"}
        if unknown:
            return f"{name!r}: unknown field {sorted(unknown)[0]!r} (suspended_regions, daily_cap, backup, reason)"
        try:
            CarrierRule.from_dict(row, name)
        except ReferenceDataError as exc:
            return str(exc)
    return None


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """A library's own log lines stay out while it is only asked whether a value is valid (the check says it)."""
    log = logging.getLogger(logger)
    before = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        log.setLevel(before)


def _strings(v: list) -> str | None:
    bad = [x for x in v if not isinstance(x, str) or "://" not in x]
    if bad:
        shown = ", ".join(repr(mask_url(x)) if isinstance(x, str) else repr(x) for x in bad)
        return f"every entry must be an Apprise URL like 'json://host/path' (bad: {shown})"
    if v:
        import apprise  # only when URLs are configured: it is a heavy import

        with _quiet("apprise"):
            for number, url in enumerate(v, 1):
                if not apprise.Apprise().add(url):  # URLs carry tokens: name the entry and scheme, not the URL
                    return (f"entry {number} ({url.split('://', 1)[0]}://…) is not a URL Apprise understands "
                            "(e.g. wecombot://KEY, dingtalk://TOKEN/, slack://A/B/C/#channel, mailtos://…, json://host/path)")
    return None


def _tokens(v: list) -> str | None:
    bad = [x if isinstance(x, str) else repr(x) for x in v
           if not isinstance(x, str) or len(x) < 16 or not x.isprintable() or " " in x]
    if bad:
        shown = ", ".join(f"{x[:4]}…" if isinstance(x, str) and len(x) > 4 else str(x) for x in bad)
        return f"every token must be a string of 16 or more printable characters without spaces (bad: {shown})"
    return None


def _token_or_empty(v: str) -> str | None:
    return None if v == "" else _tokens([v])


def _cookie_name(v: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", v) else f"must be 1-64 letters, digits, '_' or '-' (got {v!r})"


def _regex(v: str) -> str | None:
    if v == "":
        return None  # an empty pattern switches that kind of code off
    try:
        re.compile(v)
    except re.error as exc:
        return f"is not a valid regular expression ({exc}): {v!r}"
    return None


def _scale_profile(v: str) -> str | None:
    from packgate.device.errors import ProfileError
    from packgate.device.profiles import load_profiles

    try:
        names = sorted(name for name, p in load_profiles().items() if p.kind == "scale")
    except ProfileError as exc:
        return f"the firmware profiles cannot be loaded: {exc}"
    return None if v in names else f"no scale profile named {v!r} (packgate device profiles lists: {', '.join(names)})"


def _kind_profile(kind: str, listing: str) -> Check:
    def check(v: str) -> str | None:
        from packgate.device.errors import ProfileError
        from packgate.device.profiles import load_profiles

        try:
            names = sorted(name for name, p in load_profiles().items() if p.kind == kind)
        except ProfileError as exc:
            return f"the firmware profiles cannot be loaded: {exc}"
        return None if v in names else f"no {kind} profile named {v!r} ({listing} lists: {', '.join(names)})"
    return check


_printer_profile = _kind_profile("printer", "packgate device printers")
_label_template = _kind_profile("label", "packgate device printers")


def _wedge_format(v: str) -> str | None:
    from packgate.device.badge.wedge import PRESETS

    return None if v == "" or v in PRESETS else f"must be empty (nfcpy reader) or one of {', '.join(PRESETS)} (got {v!r})"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The site's own barcodes: kind -> default regex, as device.barcode.SitePatterns defines them.
CODE_KINDS: dict[str, str] = {f.name: f.default for f in fields(SitePatterns) if f.init and isinstance(f.default, str)}

# dotted key: (type, default, check or None, help)
SCHEMA: dict[str, tuple[type | tuple[type, ...], Any, Check | None, str]] = {
    "station.id": (str, "ST01", _station_code, "station code, prefix of every confirmation id"),
    "station.name": (str, "Packing table 1", None, "shown on the kiosk"),
    "station.location": (str, "ST01", None, "location recorded with every confirmation"),
    "station.data_dir": (str, "var/ST01", None, "SQLite database, photos and logs"),
    "station.language": (str, "en", _one_of("en", "zh"), "default UI language"),
    "web.host": (str, "127.0.0.1", None, "address the web UI listens on (0.0.0.0 for PDAs on the Wi-Fi)"),
    "web.port": (int, 8080, _port_number, "port of the kiosk, PDA and supervisor pages and the API"),
    "web.api_tokens": (list, [], _tokens,
                       "bearer tokens for other vendors' handhelds (Authorization: Bearer <token>; no CSRF needed)"),
    "web.tls_cert": (str, "", None, "PEM certificate: serve HTTPS (with web.tls_key) and mark cookies Secure"),
    "web.tls_key": (str, "", None, "PEM private key of web.tls_cert"),
    "web.allowed_hosts": (list, [], None, "Host names (and host:port) the pages and API answer to, besides "
                          "127.0.0.1/localhost and web.host; Origin must be one of them too"),
    "web.metrics_public": (bool, False, None, "let /metrics answer without a session or API token (for a scraper)"),
    "web.header_timeout_s": (float, 5.0, _positive, "a request's line and headers must arrive within this long, or the"
                             " connection is closed (a slow client on the Wi-Fi holds no server thread)"),
    "web.max_connections_per_client": (int, 32, _positive, "open connections one address (a PDA, a phone) may hold;"
                                       " the station PC itself has threads of its own whatever others do"),
    "web.cookie_name": (str, "packgate_session", _cookie_name,
                        "name of the pages' session cookie: stations served on one host name (the demo's two tables "
                        "on 127.0.0.1) each need their own, browsers keep cookies per host, not per port"),
    "upstream.url": ((str, list), "http://127.0.0.1:8700", _url,
                     "base URL of the upstream (WMS) API, or a list of the site's hubs (failover in order)"),
    "upstream.kind": (str, "wms", _one_of("wms", "hub"),
                      "wms: the company's order system directly; hub: the site hub (packgate site): claims, change feed,"
                      " heartbeats, and the site fires escalations (this station's [escalation] then fires nothing)"),
    "upstream.token": (str, "", _token_or_empty, "this station's bearer token (listed in the hub's [stations]); empty: none"),
    "upstream.ca_file": (str, "", _ca_file, "PEM file of the site's CA (packgate site tls ca): trusted for the https"
                                            " URLs besides the system's certificates (empty: the system's only)"),
    "upstream.batch_size": (int, 100, _positive, "confirmations per request"),
    "upstream.deadline_s": (float, 10.0, _positive, "overall deadline of one request"),
    "upstream.backoff_base_s": (float, 1.0, _positive, "first retry delay"),
    "upstream.backoff_cap_s": (float, 300.0, _positive, "longest retry delay"),
    "upstream.refresh_s": (float, 60.0, _positive, "how often reference data is pulled"),
    "upstream.orders_s": (float, 1.0, _positive, "how often the orders the WMS changed are pulled (kind wms): a hold or"
                                                " a cancellation stops this table within about this long"),
    "upstream.keep_sent_h": (float, 24.0, _positive, "acknowledged confirmations are pruned after this many hours"),
    "hub.claim_timeout_s": (float, 1.5, _positive,
                            "longest wait for the hub when an order is opened (then it opens unclaimed, offline)"),
    "hub.heartbeat_s": (float, 5.0, _positive, "heartbeat to the hub (operator, order, state, devices, outbox depth)"),
    "hub.feed_wait_s": (int, 25, _positive, "long-poll wait of the hub's change feed, seconds"),
    "profiles.user_dir": (str, "", None, "this site's own firmware profiles, searched before the bundled ones (empty: "
                          "$PACKGATE_USER_PROFILES, else $XDG_CONFIG_HOME/packgate/profiles); an upgrade never touches it"),
    "scale.enabled": (bool, True, None, "read a serial scale"),
    "scale.profile": (str, "mettler-mt-sics", _scale_profile, "firmware profile name (packgate device profiles)"),
    "scale.port": (str, "/dev/ttyUSB0", None, "device path, COM3, or pyserial URL (socket://host:port)"),
    "scale.capacity_g": (float, 150000.0, _positive, "the scale's range: a weight sent by a client above this is refused"),
    "scale.fresh_s": (float, 2.0, _positive, "a reading older than this (a few poll intervals) does not count: "
                      "the scale is 'not responding'"),
    "scanner.enabled": (bool, True, None, "read a serial/USB-CDC barcode scanner"),
    "scanner.port": (str, "/dev/ttyACM0", None, "device path or pyserial URL"),
    "scanner.suffix": (str, "CR", _one_of("CR", "LF", "CRLF", "TAB", "none", "auto"), "what ends one scan (auto: CR, LF or CRLF)"),
    "scanner.kind": (str, "serial", _one_of("serial", "hid"),
                     "serial: a serial/USB-CDC port; hid: a USB keyboard-wedge scanner read (and grabbed) through evdev"),
    "scanner.layout": (str, "us", _one_of("us", "de", "fr"), "keyboard layout a hid scanner types in"),
    "scanner.gs_substitute": (str, "", None, "printable character the scanner sends instead of GS (0x1D), e.g. '|'; empty: none"),
    "badge.enabled": (bool, True, None, "read an NFC badge reader through nfcpy"),
    "badge.reader": (str, "usb", None, "nfcpy path: usb, usb:VID:PID, tty:USB0:pn532, udp:host:port; "
                     "or an evdev path for a keyboard-wedge reader (with badge.wedge_format)"),
    "badge.wedge_format": (str, "", _wedge_format, "empty: nfcpy reader; else the wedge reader's output format (hex, dec10-reversed, em-8h10d, ...)"),
    "badge.typed_sign_in": (bool, True, None, "may a typed or scanned badge code (not a tap) sign a packer in? "
                            "It never approves anything"),
    "badge.approval_window_s": (float, 60.0, _positive, "a supervisor's tap approves a reason entered at most this long ago"),
    "badge.layout": (str, "us", _one_of("us", "de", "fr"), "keyboard layout of a wedge badge reader"),
    "camera.enabled": (bool, False, None, "take a photo of the packed parcel"),
    "camera.source": (str, "0", None, "OpenCV device index, video file or stream URL"),
    "camera.decoder": (str, "zxing", _one_of("zxing", "pyzbar"), "zxing (zxing-cpp: faster, reads Data Matrix and GS1 flags) or pyzbar"),
    "camera.playback": (str, "fast", _one_of("fast", "realtime", "loop"),
                        "video-file sources (an emulated camera): fast, realtime, or loop (realtime, over and over)"),
    "printer.profile": (str, "zebra-zpl", _printer_profile, "label printer profile (packgate device printers)"),
    "printer.port": (str, "tcp://127.0.0.1:9100", None, "tcp://HOST[:PORT] (raw 9100), usb:/dev/usb/lp0, serial:/dev/ttyUSB0"),
    "printer.poll_s": (float, 5.0, _positive, "how often the printer's status is asked (shown on /healthz and the kiosk)"),
    "label.mode": (str, "none", _one_of("none", "print", "weigh_and_ship"),
                   "none: no label gate; print: print at pack after every check, then scan it; "
                   "weigh_and_ship: the pre-printed waybill opens the order, the passing weighing ships it"),
    "label.template": (str, "label-zpl-100x150", _label_template,
                       "label template (label-zpl-100x150, label-zpl-76x130, label-tspl-100x150, label-tspl-76x130)"),
    "label.verify": (bool, True, None, "the packer scans the printed label on the parcel (off: audited at start)"),
    "label.verify_remind_s": (float, 20.0, _non_negative, "remind the packer to scan the label after this long (0: never)"),
    "label.format": (str, "s10", _one_of("s10", "numeric"), "waybill format asked of upstream"),
    "label.reserve_per_order": (int, 2, _non_negative, "waybills pre-issued per order for offline work (0: none)"),
    "video.enabled": (bool, True, None, "record a packing video per order while the camera is enabled"),
    "video.codec": (str, "auto", _one_of("auto", "avc1", "H264", "VP80", "VP90", "mp4v", "MJPG"),
                    "auto: the first this OpenCV build writes of H.264, VP8/WebM, VP9/WebM, MPEG-4, MJPG"),
    "video.fps": (float, 10.0, _positive, "frames per second of the clip"),
    "video.width": (int, 640, _positive, "frame width of the clip in pixels (scaled, aspect kept)"),
    "video.retention_days": (float, 90.0, _positive, "clips of shipped orders older than this are removed"),
    "video.max_disk_mb": (float, 2048.0, _positive, "disk budget of the clips; over it the oldest shipped go first"),
    "video.warn_pct": (float, 90.0, _percent, "a health problem when the clips use this share of the budget"),
    "video.min_free_mb": (float, 500.0, _positive, "a health problem when the disk has less free space"),
    "privacy.key_file": (str, "", None, "the key file sealing personal data in station.db (0600, created at first"
                         " start; empty: personal-data.key beside station.db). Keep it out of the database's backups"),
    "privacy.retention_days": (float, 7.0, _positive, "personal data of an order is purged this long after its"
                               " hand-over at the dock (never scanned there: after its pack)"),
    "load.shed_pct": (float, 80.0, _percent, "above this load (CPU of the machine, or the scan path's own lag) work"
                      " that can wait (video encoding, reports) steps aside until the load falls"),
    "weighing.tolerance_pct": (float, 5.0, _percent, "allowed difference from expected weight, percent"),
    "weighing.category_tolerance_pct": (dict, {}, _decimal_table, "per-category tolerance overrides"),
    "weighing.use_floor": (bool, True, None, "apply an absolute floor so light parcels are not judged below the scale's resolution"),
    "weighing.floor_table": (str, "ounce", _one_of("ounce", "anchor", "none"),
                             "ounce: at least 1 oz (28.35 g) allowed at any weight; anchor: 1 oz under 1 lb, 1 lb above"),
    "weighing.gate": (str, "catalogue", _one_of("catalogue", "learned"),
                      "catalogue: the percentage rule on catalogue weights; learned: the figures this table learned "
                      "from parcels that passed, where there are enough (else the catalogue rule)"),
    "weighing.gate_k": (float, 3.0, _positive, "learned gate: allowed = k sigma of the parcel's history (3: 99.73 %)"),
    "weighing.gate_floor": (str, "site", _one_of("site", "division"),
                            "learned gate without history: site: the floor of weighing.floor_table; division: five "
                            "scale divisions"),
    "weighing.scale_division": (str, "", _resolution,
                                "the scale's division in grams (\"2\"), or limit:division pairs (\"6000:2,15000:5\"); "
                                "empty: the scale's firmware profile's (scale.profile: its [weighing] division, else "
                                "the step its readings carry, at least 1 g)"),
    "weighing.mode": (str, "parcel", _one_of("parcel", "per_item"),
                      "parcel: the packed parcel is weighed once; per_item: the empty box first, then each item's "
                      "weight gain must match it before the next scan counts (the parcel is still weighed at the end)"),
    "weighing.steady_s": (float, 0.5, _positive, "per item: a reading unchanged within one division this long is "
                          "steady, for scales that never flag one"),
    "weighing.learn_every_s": (float, 60.0, _positive, "learned gate: learn from the new parcels this often"),
    "lots.policy": (str, "FIFO", _one_of("FIFO", "FEFO", "NONE"), "site default lot policy"),
    "lots.expiry_warning_days": (int, 90, _positive, "highlight lots expiring within this many days"),
    "session.idle_sign_out_s": (float, 900.0, _positive, "sign the operator out after this idle time"),
    "session.verdict_clear_s": (float, 60.0, _positive,
                                "the kiosk shows a verdict this long on an idle table, then the next step; a blocked "
                                "parcel, a lot decision, a second badge or a label to scan stays in its colour"),
    "returns.weight_tolerance_pct": (float, 5.0, _non_negative,
                                     "returns: the returned items may weigh this % more or less than their catalog"
                                     " weights before the gap is flagged (and the return goes to review)"),
    "returns.weight_tolerance_g": (float, 20.0, _non_negative,
                                   "returns: the smallest weight gap allowed, in grams (light items)"),
    "escalation.first_after_min": (float, 12.0, _positive, "picked but not packed: first escalation"),
    "escalation.second_after_min": (float, 22.0, _positive, "second escalation level"),
    "escalation.notify": (list, [], _strings, "Apprise URLs of supervisors (wecombot://, dingtalk://, slack://, mailto://, json://)"),
    "review.order_value_over": (float, 0.0, _non_negative,
                                "orders worth more than this (the WMS's order value) wait for a supervisor (0: off)"),
    "review.regions": (list, [], _names, "orders shipped to one of these regions (the WMS's region code) wait for a "
                                         "supervisor"),
    "review.weight_over_g": (float, 0.0, _non_negative,
                             "orders whose goods weigh more than this (catalogue weights) wait for a supervisor (0: off)"),
    "review.units_over": (int, 0, _non_negative, "orders of more units than this wait for a supervisor (0: off)"),
    "review.packaging": (list, [], _names, "orders whose suggested box is one of these (oversize) wait for a supervisor"),
    "review.customer_flags": (list, [], _names,
                              "orders of a customer the WMS flags with one of these (new_customer, first_order, "
                              "blacklist, ...) wait for a supervisor"),
    "review.categories": (list, [], _names, "orders with a SKU of one of these categories wait for a supervisor"),
    "carriers.auto_switch": (bool, False, None, "a label for a suspended or capped carrier goes to its backup at once "
                                                "(off: the packer is offered the backup)"),
    "carriers.rules": (dict, {}, _carrier_table,
                       "per carrier: suspended_regions (\"*\": all), daily_cap, backup, reason; the WMS's carrier "
                       "rules replace a carrier's row"),
    "stock.default_safety_qty": (int, 0, _non_negative,
                                 "a SKU without the WMS's safety_stock raises a stock alert at or below this many "
                                 "units (0: none)"),
    **{f"codes.{kind}": (str, regex, _regex, f"regular expression of the site's {kind} codes (empty: none)")
       for kind, regex in CODE_KINDS.items()},
    "log.level": (str, "INFO", _one_of(*LOG_LEVELS), "DEBUG, INFO, WARNING or ERROR"),
}


@dataclass(frozen=True)
class Config:
    values: dict[str, Any]
    source: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def section(self, name: str) -> dict[str, Any]:
        prefix = name + "."
        return {k[len(prefix):]: v for k, v in self.values.items() if k.startswith(prefix)}

    def with_overrides(self, overrides: dict[str, Any]) -> "Config":
        return validate({**self.values, **overrides}, self.source)

    @property
    def data_dir(self) -> Path:
        return self.resolve_path(self.values["station.data_dir"])

    def resolve_path(self, value: str) -> Path:
        """A path setting: relative ones are relative to this file."""
        path = Path(value)
        if not path.is_absolute() and self.source:
            path = Path(self.source).resolve().parent / path
        return path

    @property
    def key_file(self) -> Path:
        """The key file sealing the personal data of station.db (``privacy.key_file``, else beside it)."""
        from packgate.sync.common.sealing import default_key_file

        value = self.values["privacy.key_file"]
        return self.resolve_path(value) if value else default_key_file(self.data_dir / "station.db")



def suggest(key: str) -> str | None:
    """The known key ``key`` was probably meant to be: same name in another section, else the closest spelling."""
    name = key.split(".")[-1].lower()
    same_name = [k for k in SCHEMA if k.split(".")[-1] == name]
    if same_name:
        return same_name[0]
    close = difflib.get_close_matches(key.lower(), list(SCHEMA), n=1, cutoff=0.75)
    if close:
        return close[0]
    by_name = {k.split(".")[-1]: k for k in SCHEMA}
    close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.75)
    return by_name[close[0]] if close else None


# names of firmware-profile keys (device/profiles: [serial], [poll], [framing], [parser], [stability]) that site IT
# puts into packgate.toml by mistake: the device's profile carries them
PROFILE_KEYS = frozenset({"baud", "baudrate", "baud_rate", "bytesize", "parity", "stopbits", "xonxoff", "rtscts",
                          "protocol", "poll", "interval", "command", "framing", "parser", "stability", "unit",
                          "decimals", "serial", "dpi", "language", "darkness", "speed"})
PROFILED = {"scale": ("scale.profile", "packgate device profiles", "packgate device probe --port …"),
            "printer": ("printer.profile", "packgate device printers", None)}


def unknown_key(key: str) -> str:
    """The problem of an unknown ``key``: where its value belongs (a firmware profile), or the key meant."""
    section, _, name = key.lower().rpartition(".")
    if section in PROFILED and name in PROFILE_KEYS:
        setting, listing, probe = PROFILED[section]
        finder = f"; `{probe}` finds the one a connected {section} speaks" if probe else ""
        return (f"unknown key {key!r}: the {section}'s {name} is part of its firmware profile, not of packgate.toml "
                f"— choose the profile that matches with {setting} (`{listing}` lists them{finder}), or add a profile "
                f"file to firmware-profiles/ (see 'Adding or adapting a profile')")
    near = suggest(key)
    return f"unknown key {key!r}" + (f" (did you mean {near!r}?)" if near else "")


def validate(flat: dict[str, Any], source: str | None = None) -> Config:
    """The configuration of ``flat`` (dotted keys); raises ``ConfigError`` listing every problem found."""
    where = f"{source}: " if source else ""
    problems = [unknown_key(key) for key in sorted(set(flat) - set(SCHEMA))]
    values: dict[str, Any] = {}
    _use_site_profiles(flat.get("profiles.user_dir", ""), source)  # before any profile name is checked
    for key, (typ, default, check, _help) in SCHEMA.items():
        value = flat.get(key, default)
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if (typ is int and isinstance(value, bool)) or not isinstance(value, typ):
            problems.append(f"{key}: must be {type_name(typ)} (got {_shown_value(key, value)!r})")
            continue
        problem = check(value) if check else None
        if problem:
            problems.append(f"{key}: {problem}")
            continue
        values[key] = value
    problems += _across(values)
    if problems:
        raise ConfigError("\n".join(where + p for p in problems), [where + p for p in problems])
    return Config(values, source)


def _across(values: dict[str, Any]) -> list[str]:
    """Problems between keys, for the keys whose own values are valid."""
    out = []
    if {"upstream.backoff_cap_s", "upstream.backoff_base_s"} <= set(values) and \
            values["upstream.backoff_cap_s"] < values["upstream.backoff_base_s"]:
        out.append("upstream.backoff_cap_s: must be at least upstream.backoff_base_s")
    if {"escalation.second_after_min", "escalation.first_after_min"} <= set(values) and \
            values["escalation.second_after_min"] <= values["escalation.first_after_min"]:
        out.append("escalation.second_after_min: must be later than escalation.first_after_min")
    if values.get("label.mode") == "print" and {"label.template", "printer.profile"} <= set(values):
        problem = _label_language(values["label.template"], values["printer.profile"])
        if problem:
            out.append(f"label.template: {problem}")
    if values.get("upstream.kind") == "hub" and values.get("upstream.token") == "":
        out.append("upstream.token: a station whose upstream is a hub needs its token"
                   " (the one listed for it in the hub's [stations])")
    return out


def _use_site_profiles(user_dir: Any, source: str | None) -> None:
    """The station picks its profiles from ``profiles.user_dir`` (relative to the config file) and the bundled ones."""
    from packgate.device.profiles import use_user_dir

    if not isinstance(user_dir, str) or not user_dir:
        use_user_dir(None)
        return
    path = Path(user_dir).expanduser()
    if not path.is_absolute() and source:
        path = Path(source).resolve().parent / path
    use_user_dir(path)


def notes(cfg: Config) -> list[str]:
    """What ``config check`` should tell site IT beyond "valid" (settings that have no effect, and why)."""
    out = []
    if cfg["upstream.kind"] == "hub":
        out.append("upstream.kind = \"hub\": escalations are fired by the site hub (its own [escalation] and"
                   " notify URLs); this station's [escalation] settings fire nothing")
    return out


def device_path(cfg: Config, name: str) -> str | None:
    """The file a device of ``name`` is opened at, when its setting names one (not a URL, COM port or usb:)."""
    if not cfg[f"{name}.enabled"]:
        return None
    value = str(cfg[{"scale": "scale.port", "scanner": "scanner.port", "badge": "badge.reader",
                     "camera": "camera.source"}[name]])
    if name == "badge" and value.startswith("tty:"):
        return f"/dev/tty{value.split(':')[1]}"  # nfcpy's tty:USB0:pn532 is /dev/ttyUSB0
    return value if value.startswith("/") else None


def warnings(cfg: Config) -> list[str]:
    """What ``config check`` warns about (still valid): device paths that do not exist on this machine now."""
    out = []
    for name in ("scale", "scanner", "badge", "camera"):
        path = device_path(cfg, name)
        if path is not None and not Path(path).exists():
            out.append(f"{name}: {path} does not exist (not plugged in, or another name: see /dev/serial/by-id/)")
    return out


SECRET_KEYS = ("upstream.token", "web.api_tokens")
URL_KEYS = ("upstream.url", "escalation.notify")
_SECRET_PARAMS = frozenset({"token", "key", "secret", "password", "pass", "pwd", "access_token", "apikey", "api_key",
                            "webhook", "sign", "signature", "auth"})


def mask_token(token: str) -> str:
    """A token as it may be printed: its first 4 characters."""
    return f"{token[:4]}…" if token else ""


def _secretish(part: str) -> bool:
    """A URL part that is a key, not a name: a run of token characters, very long or long with letters and digits
    (a host name, an address or a channel has dots, an @ or a #)."""
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", part):
        return False
    return len(part) >= 16 or (len(part) >= 10 and any(c.isdigit() for c in part) and any(c.isalpha() for c in part))


def mask_url(url: str) -> str:
    """``url`` with its secret parts masked: the password, a user, host or path segment that is a key, and query
    values named like a secret (``mailtos://alerts:***@smtp.example.com``, ``wecombot://0123…``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_token(url)
    if not parts.scheme:
        return mask_token(url)
    user, at, hostport = parts.netloc.rpartition("@")
    if at:
        name, colon, _password = user.partition(":")
        user = (mask_token(name) if _secretish(name) else name) + (":***" if colon else "") + "@"
    host, colon, port = hostport.partition(":")
    if "." not in host and _secretish(host):
        host = mask_token(host)
    path = "/".join(mask_token(seg) if _secretish(seg) else seg for seg in parts.path.split("/"))
    query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMS or _secretish(v) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="@*")
    fragment = mask_token(parts.fragment) if _secretish(parts.fragment) else parts.fragment
    return urlunsplit((parts.scheme, f"{user}{host}{colon}{port}", path, query, fragment))


def _shown_value(key: str, value: Any) -> Any:
    if key in SECRET_KEYS:
        return [mask_token(str(v)) for v in value] if isinstance(value, list) else mask_token(str(value))
    if key in URL_KEYS:
        return [mask_url(str(v)) for v in value] if isinstance(value, list) else mask_url(str(value))
    return value


def shown(cfg: Config) -> dict[str, Any]:
    """The settings for printing: every token and the secret part of every URL masked."""
    return {key: _shown_value(key, value) for key, value in cfg.values.items()}


def _label_language(template: str, printer: str) -> str | None:
    from packgate.device.printer.spec import language_mismatch
    from packgate.device.profiles import get_profile

    label, spec = get_profile(template).template, get_profile(printer).printer
    return None if label is None or spec is None else language_mismatch(template, label, printer, spec)


def load(path: str | Path | None) -> Config:
    """Load and validate ``path`` (None: all defaults)."""
    if path is None:
        return validate({})
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror})") from exc
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return validate(flatten(tree, SCHEMA), str(path))


def render_defaults() -> str:
    """A commented packgate.toml with every key and its default."""
    lines: list[str] = []
    section = None
    for key, (_typ, default, _check, help_) in SCHEMA.items():
        sec, name = key.rsplit(".", 1)
        if sec != section:
            lines.append(f"\n[{sec}]")
            section = sec
        lines.append(f"# {help_}")
        lines.append(f"{name} = {toml_value(default)}")
    return "\n".join(lines).lstrip() + "\n"
