"""``site.toml``: the hub's configuration, one schema table with defaults and meanings.

Same approach as the station's ``packgate.toml``: dotted key -> (type, default, check, help);
loading validates every key and value, and an error names the key and the problem.
"""
from __future__ import annotations

import difflib
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from packgate.sync.common.http import ca_file_problem
from packgate.sync.common.ids import STATION_RE
from packgate.sync.common.settings import flatten, toml_value, type_name
from packgate.sync.errors import HubConfigError
from packgate.sync.hub.alert_rules import DEFAULT_RULES
from packgate.sync.hub.alert_rules import parse as parse_rules
from packgate.sync.hub.auth import HASHED, token_hash
from packgate.sync.hub.floor import DEFAULT_SLA, shift_problem, sla_problem

Check = Callable[[Any], str | None]
MIN_TOKEN = 16


def _port(v: int) -> str | None:
    return None if 0 <= v <= 65535 else f"must be a TCP port 0-65535 (got {v})"


def _positive(v: float) -> str | None:
    return None if v > 0 else f"must be greater than 0 (got {v})"


def _url_or_empty(v: str) -> str | None:
    if v == "" or v.startswith(("http://", "https://")):
        return None
    return f"must start with http:// or https:// (or be empty: no WMS, confirmations wait) (got {v!r})"


def _db(v: str) -> str | None:
    if not v:
        return "must name a SQLite file or a postgresql://user@host/dbname URL"
    if v.startswith(("postgres://", "postgresql://")):
        from urllib.parse import urlsplit

        parts = urlsplit(v)
        if not parts.path.strip("/") and "host=" not in parts.query and "dbname=" not in parts.query:
            return "a PostgreSQL URL must name the database: postgresql://user@host:5432/dbname"
    elif "://" in v:
        return f"must be a SQLite file path or a postgresql:// URL (got {v.split('://', 1)[0]}://…)"
    return None


def _stations(v: dict) -> str | None:
    seen: dict[str, str] = {}
    for station, token in v.items():
        if not STATION_RE.match(station):
            return f"station id {station!r} must be 1-16 characters A-Z/0-9 (as in the station's station.id)"
        if isinstance(token, str) and token.startswith(HASHED):
            if not re.fullmatch(r"[0-9a-f]{64}", token[len(HASHED):]):
                return f"token of {station}: {HASHED} must be followed by 64 lower-case hex digits (packgate site token)"
            kept = token
        elif not isinstance(token, str) or len(token) < MIN_TOKEN or not token.isprintable() or " " in token:
            return (f"token of {station} must be a string of {MIN_TOKEN} or more printable characters without spaces,"
                    f" or its hash ({HASHED}…): packgate site token {station} makes both")
        else:
            kept = token_hash(token)
        if kept in seen:
            return f"stations {seen[kept]} and {station} share one token; give every station its own"
        seen[kept] = station
    return None


def _names(v: dict) -> str | None:
    bad = [k for k, name in v.items() if not isinstance(name, str) or not name.strip()]
    return f"every display name must be a non-empty string (bad: {', '.join(bad)})" if bad else None


def _apprise_urls(v: list) -> str | None:
    bad = [x for x in v if not isinstance(x, str) or "://" not in x]
    if bad:
        return f"every entry must be an Apprise URL like 'json://host/path' (bad: {bad!r})"
    if v:
        import apprise

        for number, url in enumerate(v, 1):
            if not apprise.Apprise().add(url):
                return (f"entry {number} ({url.split('://', 1)[0]}://…) is not a URL Apprise understands "
                        "(e.g. wecombot://KEY, dingtalk://TOKEN/, slack://A/B/C/#channel, json://host/path)")
    return None


def _subscribers(v: dict) -> str | None:
    from packgate.sync.hub.subscribers import problem

    return problem(v)


def _rules(v: list) -> str | None:
    try:
        parse_rules(v)
    except ValueError as exc:
        return str(exc)
    return None


def _daily_at(v: str) -> str | None:
    hour, _, minute = v.partition(":")
    ok = hour.isdigit() and minute.isdigit() and len(minute) == 2 and int(hour) < 24 and int(minute) < 60
    return None if ok else f"must be a time of day HH:MM, e.g. \"02:00\" (got {v!r})"


# dotted key: (type, default, check or None, meaning)
SCHEMA: dict[str, tuple[type | tuple[type, ...], Any, Check | None, str]] = {
    "site.name": (str, "Site", None, "shown on the dashboard"),
    "site.host": (str, "127.0.0.1", None, "address the hub listens on (0.0.0.0 for the stations on the site network)"),
    "site.port": (int, 8700, _port, "port of the station API, the feed and the dashboard"),
    "site.db": (str, "var/site/hub.db", _db, "the hub's database: a SQLite file (relative to this file), or postgresql://user@host/db"
                                                 " for PostgreSQL (several hubs on one database)"),
    "site.db_pool": (int, 16, _positive, "database connections per hub process (PostgreSQL: keep hubs x pool"
                                         " below max_connections)"),
    "site.threads": (int, 320, _positive,
                     "server worker threads; each long-poll holds one while it waits (feed streams and idle connections"
                     " do not): long-polls may take all but a quarter (at least 8), which stay for confirmations and"
                     " the other short requests, so with stations that long-poll keep it above 4/3 x their number"),
    "site.header_timeout_s": (float, 5.0, _positive, "a request's line and headers must arrive within this long, or"
                              " the connection is closed (a slow client holds no server thread)"),
    "site.max_connections_per_client": (int, 64, _positive, "open connections one address may hold (a station holds"
                                        " a few: deliveries, the feed, heartbeats, labels)"),
    "site.allowed_hosts": (list, [], lambda v: None if all(isinstance(h, str) and h for h in v) else
                           "every entry must be a host name, e.g. \"site-server\" or \"10.0.0.5\"",
                           "host names (and addresses) the dashboard is opened by, besides localhost, 127.0.0.1 and"
                           " site.host: a browser's Host and Origin must be one of them (stations' token requests,"
                           " /healthz, /metrics and /openapi.json are not checked)"),
    "site.tls_cert": (str, "", None, "PEM certificate (chain) of this hub: serve HTTPS (with site.tls_key); make one"
                                     " with packgate site tls cert"),
    "site.tls_key": (str, "", None, "PEM private key of site.tls_cert"),
    "site.upstream_url": (str, "", _url_or_empty, "base URL of the WMS the hub relays confirmations to"),
    "site.upstream_token": (str, "", None, "the hub's relay token at the WMS (the reference WMS's relay_token: every"
                                           " station's confirmations, no admin calls); empty: none"),
    "site.upstream_ca_file": (str, "", lambda v: None if v == "" else ca_file_problem(v),
                              "PEM file of a CA trusted for an https WMS besides the system's certificates"),
    "site.deadline_s": (float, 10.0, _positive, "overall deadline of one request to the WMS"),
    "site.subscriber_deadline_s": (float, 10.0, _positive, "overall deadline of one webhook request to a subscriber"),
    "site.batch_size": (int, 100, _positive, "a station's confirmations per relay pass (all stations' go in one"
                        " request of at most 1,000)"),
    "site.relay_senders": (int, 1, _positive, "to a WMS without POST /v1/confirmations/batches: relay requests at"
                           " once, each for another station (more lower the relay's lag but cost CPU, and the WMS may"
                           " then receive two stations' confirmations in another order than the hub did: keep 1 when"
                           " it relies on that order)"),
    "site.relay_pace_s": (float, 1.0, _positive, "a relay pass that sent starts at most this often: each station's"
                          " request carries what arrived meanwhile (longer: fewer requests to the WMS, a longer lag)"),
    "site.backoff_base_s": (float, 1.0, _positive, "first relay retry delay"),
    "site.backoff_cap_s": (float, 300.0, _positive, "longest relay retry delay"),
    "site.refresh_s": (float, 60.0, _positive, "how often the hub pulls the WMS's reference data"),
    "site.code": (str, "HUB", lambda v: None if STATION_RE.match(v) else
                  f"must be 1-16 characters A-Z/0-9, like a station id (got {v!r})",
                  "the station code the hub's own confirmations (escalate, escalation_ack) reach the WMS under:"
                  " unique in the WMS, never one of [stations]"),
    "site.orders_s": (float, 0.5, _positive, "how often the hub pulls the orders the WMS changed (a hold or a"
                                             " cancellation reaches every table within about this plus the feed)"),
    "site.language": (str, "en", lambda v: None if v in ("en", "zh") else f"must be en or zh (got {v!r})",
                      "default dashboard language"),
    "claims.expire_after_s": (float, 120.0, _positive,
                              "a claim whose table sent no heartbeat or renewal for this long expires"),
    "claims.offline_after_s": (float, 30.0, _positive, "a station silent this long shows as offline"),
    "feed.max_wait_s": (float, 30.0, _positive, "longest long-poll a station may ask for"),
    "feed.seal_s": (float, 0.1, _positive, "the feed sends the changes of this long in one batch, serialised once for"
                                           " every station (a change reaches the stations within about this long; with more than 100 followers"
                                           " open, a little longer: seals wake at most 1,000 followers a second)"),
    "feed.max_waits_per_station": (int, 4, _positive, "long-polls and feed streams one token (a station, a supervisor)"
                                   " may have open at once; more are answered 429 (a station follows the feed with one)"),
    "clock.warn_after_s": (float, 10.0, _positive, "a station whose clock differs from the hub's by more than this"
                           " (measured at each heartbeat) is named on the dashboard and in /healthz, and its kiosk warns"),
    "escalation.first_after_min": (float, 12.0, _positive, "picked but not packed anywhere, counted from when the"
                                   " hub received the pick (the hub's clock): first escalation"),
    "escalation.second_after_min": (float, 22.0, _positive, "second escalation level"),
    "escalation.notify": (list, [], _apprise_urls,
                          "Apprise URLs of the supervisors (wecombot://, dingtalk://, slack://, mailtos://, json://)"),
    "escalation.retry_s": (float, 30.0, _positive, "a failed notification is tried again after this long"),
    "escalation.senders": (int, 8, _positive, "notifications sent at once (a slow chat service delays one message,"
                           " not the wave behind it)"),
    "alerts.rules": (list, DEFAULT_RULES, _rules,
                     "the alert rules ([[alerts.rules]] tables: kind = stuck | queue | volume | sync_failures |"
                     " station_offline | clock | channel | reconciliation and their thresholds; see the manual's"
                     " Alerts page); each fires once per (rule, subject); [] turns them off"),
    "alerts.notify": (list, [], _apprise_urls, "Apprise URLs the alerts go to (empty: escalation.notify)"),
    "reports.daily_at": (str, "02:00", _daily_at, "hub-local time the day report of the day before is sent, after"
                         " the day's reconciliation with the WMS"),
    "reports.notify": (list, [], _apprise_urls, "Apprise URLs the day report goes to, e.g. mailtos:// for"
                       " operations, finance and IT (empty: the alerts' channels)"),
    "lots.expiry_warning_days": (int, 90, _positive, "the dashboard lists lots expiring within this many days"),
    "dock.handover_after_min": (float, 120.0, _positive,
                                "a parcel packed this long ago and not yet handed over at the dock shows on the dashboard"),
    "privacy.key_file": (str, "", None, "the key file sealing personal data in the hub's database (0600, created at"
                         " first start; empty: personal-data.key beside the SQLite file, or beside this file for"
                         " PostgreSQL). Every hub of a site needs a copy of the same key file; keep it out of the"
                         " database's backups"),
    "privacy.retention_days": (float, 7.0, _positive, "personal data of an order is purged this long after its"
                               " hand-over at the dock"),
    "load.shed_pct": (float, 80.0, lambda v: None if 0 < v < 100 else f"must be a percentage between 0 and 100 (got {v})",
                      "above this load (CPU of the machine, or the hub's own request lag) work that can wait (chart"
                      " rendering, reports) steps aside until the load falls"),
    "returns.alert_after_h": (float, 72.0, _positive,
                              "a return announced by the WMS this long ago and not yet closed at a table is listed"
                              " in red on the dashboard (returns waiting too long)"),
    "dashboard.session_s": (float, 8 * 3600.0, _positive, "a supervisor's sign-in lasts this long"),
    "dashboard.sla": (dict, DEFAULT_SLA, sla_problem,
                      "stage -> [amber, red]: minutes an open order may stay in the stage before the dashboard shows it"
                      " amber, then red (backlog, picking, picked, packing, weighed, blocked, packed)"),
    "dashboard.shifts": (list, ["06:00", "14:00", "22:00"], shift_problem,
                         "local times the shifts start: the dashboard's shift figures count from the latest"),
    "dashboard.page_size": (int, 50, _positive, "open orders per page of the dashboard's list"),
    "stations": (dict, {}, _stations, "station id -> its bearer token (the station's upstream.token), or better the"
                                      " token's hash (sha256:…, from packgate site token): the hub only compares"),
    "subscribers": (dict, {}, _subscribers, "name -> { url, secret, events }: webhooks told of every order and"
                                            " confirmation event (HMAC-SHA256 signature header), exactly once each"),
    "station_names": (dict, {}, _names, "station id -> display name used in refusals, e.g. \"Packing table 2\""),
}


@dataclass(frozen=True)
class SiteConfig:
    values: dict[str, Any]
    source: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def db_path(self) -> str:
        if self.values["site.db"].startswith(("postgres://", "postgresql://")):
            return str(self.values["site.db"])
        path = Path(self.values["site.db"])
        if not path.is_absolute() and self.source:
            path = Path(self.source).resolve().parent / path
        return str(path)

    @property
    def key_file(self) -> Path:
        """The key file sealing personal data (``privacy.key_file``; else beside the SQLite file, or beside this
        file for PostgreSQL)."""
        from packgate.sync.common.sealing import KEY_FILE_NAME, default_key_file

        value = self.values["privacy.key_file"]
        if value:
            path = Path(value)
            return path if path.is_absolute() or not self.source else Path(self.source).resolve().parent / path
        if not self.db_path.startswith(("postgres://", "postgresql://")):
            return default_key_file(self.db_path)
        if self.source:
            return Path(self.source).resolve().parent / KEY_FILE_NAME
        import hashlib
        import os

        home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "packgate"
        return home / f"site-{hashlib.sha256(self.db_path.encode()).hexdigest()[:12]}.key"

    def station_name(self, station: str) -> str:
        return str(self.values["station_names"].get(station, station))

    @property
    def alert_urls(self) -> list[str]:
        return list(self.values["alerts.notify"] or self.values["escalation.notify"])

    @property
    def report_urls(self) -> list[str]:
        return list(self.values["reports.notify"] or self.alert_urls)

    def warnings(self) -> list[str]:
        """What works but should not stay so: no notification channel (escalations and alerts are only shown on
        the dashboard, never sent)."""
        found = []
        if not self.values["escalation.notify"]:
            found.append("escalation.notify is empty: escalations are shown on the dashboard but sent to nobody")
        if not self.alert_urls:
            found.append("no notification channel for alerts (alerts.notify, escalation.notify): alerts are shown on"
                         " the dashboard but sent to nobody")
        if not self.report_urls:
            found.append("no channel for the day report (reports.notify): it is kept on the hub (Reports page), not"
                         " sent")
        return found





def validate(flat: dict[str, Any], source: str | None = None) -> SiteConfig:
    where = f"{source}: " if source else ""
    unknown = sorted(set(flat) - set(SCHEMA))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(SCHEMA), n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise HubConfigError(f"{where}unknown key {unknown[0]!r}{hint}")
    values: dict[str, Any] = {}
    for key, (typ, default, check, _meaning) in SCHEMA.items():
        value = flat.get(key, default)
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if (typ is int and isinstance(value, bool)) or not isinstance(value, typ):
            name = type_name(typ)
            raise HubConfigError(f"{where}{key}: must be {name} (got {value!r})")
        problem = check(value) if check else None
        if problem:
            raise HubConfigError(f"{where}{key}: {problem}")
        values[key] = value
    values["dashboard.sla"] = {**DEFAULT_SLA, **values["dashboard.sla"]}
    if values["escalation.second_after_min"] <= values["escalation.first_after_min"]:
        raise HubConfigError(f"{where}escalation.second_after_min: must be later than escalation.first_after_min")
    if bool(values["site.tls_cert"]) != bool(values["site.tls_key"]):
        raise HubConfigError(f"{where}site.tls_key: site.tls_cert and site.tls_key go together (both or neither)")
    if values["site.backoff_cap_s"] < values["site.backoff_base_s"]:
        raise HubConfigError(f"{where}site.backoff_cap_s: must be at least site.backoff_base_s")
    if values["site.code"] in values["stations"]:
        raise HubConfigError(f"{where}site.code: {values['site.code']} is also a station in [stations]; the hub's own"
                             " confirmations need a code of their own")
    unnamed = sorted(set(values["station_names"]) - set(values["stations"]))
    if unnamed:
        raise HubConfigError(f"{where}station_names: {unnamed[0]} has a name but no token in [stations]")
    return SiteConfig(values, source)


def load(path: str | Path | None, overrides: dict[str, Any] | None = None) -> SiteConfig:
    """Load and validate ``path`` (None: defaults), then apply ``overrides`` (dotted keys)."""
    if path is None:
        return validate(dict(overrides or {}))
    path = Path(path)
    try:
        tree = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HubConfigError(f"{path}: cannot read the configuration file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise HubConfigError(f"{path}: not valid TOML: {exc}") from exc
    return validate({**flatten(tree, SCHEMA), **(overrides or {})}, str(path))


def secrets_in_clear(cfg: SiteConfig) -> list[str]:
    """What of ``cfg`` is a secret kept in clear: station tokens not hashed, the WMS token, a database password."""
    found = [f"the token of {station}" for station, token in cfg["stations"].items() if not token.startswith(HASHED)]
    if cfg["site.upstream_token"]:
        found.append("site.upstream_token")
    found += [f"the secret of subscriber {name}" for name in cfg["subscribers"]]
    if re.search(r"://[^:/@]*:[^@]+@", cfg["site.db"]):
        found.append("the password in site.db")
    return found


def permission_problem(path: str | Path, cfg: SiteConfig) -> str | None:
    """Why ``path`` is not safe for what it holds: secrets in clear in a file other users may read or anyone may
    change; None when it is (0640 root:packgate-site, as ``packgate install hub`` writes it, or hashed tokens only)."""
    mode = stat.S_IMODE(Path(path).stat().st_mode)
    if mode & 0o002:
        return f"{path} may be changed by every user (mode {mode:04o}): chmod 0640 (root and the hub's group)"
    clear = secrets_in_clear(cfg)
    if clear and mode & 0o004:
        return (f"{path} is readable by every user (mode {mode:04o}) and holds {', '.join(clear)} in clear: chmod 0640"
                " (root and the hub's group), and keep the stations' tokens as hashes (packgate site token)")
    return None


def render_defaults() -> str:
    """A commented site.toml with every key, its default and its meaning."""
    lines: list[str] = []
    section = None
    for key, (_typ, default, _check, meaning) in SCHEMA.items():
        sec, _, name = key.rpartition(".")
        if isinstance(default, dict) and not default:  # an empty table of its own; a filled one is inline
            lines += [f"\n# {meaning}", f"[{key}]"]
            lines.append({"stations": '# ST01 = "…"', "subscribers": '# crm = { url = "https://crm.example/hooks/packgate",'
                          ' secret = "…", events = ["confirmation", "order_stage", "order_status"] }'}
                         .get(key, '# ST01 = "Packing table 1"'))
            section = key
            continue
        if sec != section:
            lines.append(f"\n[{sec}]")
            section = sec
        lines += [f"# {meaning}", f"{name} = {toml_value(default)}"]
    return "\n".join(lines).lstrip() + "\n"
