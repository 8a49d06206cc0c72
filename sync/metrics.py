"""Prometheus text exposition of ``Outbox.status()`` (served by the station on /metrics)."""
from __future__ import annotations

from typing import Any

from packgate.device.clock import parse_iso

# metric name, type, help, how to get the value from the status dict
METRICS = (
    ("packgate_outbox_depth", "gauge", "Confirmations committed locally and not yet acknowledged upstream.",
     lambda s: s.get("depth")),
    ("packgate_outbox_oldest_unsent_age_seconds", "gauge", "Age of the oldest unsent confirmation (0 when empty).",
     lambda s: s.get("oldest_age_s") or 0),
    ("packgate_outbox_dead_letters", "gauge", "Confirmations refused by upstream, waiting for a supervisor.",
     lambda s: s.get("dead")),
    ("packgate_outbox_sent", "gauge", "Confirmations acknowledged by upstream and kept locally.",
     lambda s: s.get("sent")),
    ("packgate_outbox_consecutive_failures", "gauge", "Send attempts that failed since the last success.",
     lambda s: s.get("consecutive_failures")),
    ("packgate_sync_last_success_timestamp_seconds", "gauge", "Unix time of the last successful send (0 = never).",
     lambda s: _epoch(s.get("last_success"))),
    ("packgate_clock_skew_seconds", "gauge", "Upstream clock minus station clock, from the last answer.",
     lambda s: s.get("clock_skew_s")),
    ("packgate_reference_last_refresh_timestamp_seconds", "gauge",
     "Unix time of the last successful reference refresh (0 = never).",
     lambda s: _epoch((s.get("reference") or {}).get("last_refresh"))),
    ("packgate_reference_refresh_failing", "gauge", "1 while the last reference refresh failed.",
     lambda s: 1 if (s.get("reference") or {}).get("last_error") else 0),
    ("packgate_sync_ok", "gauge", "1 when sync health has no problems.",
     lambda s: 1 if s.get("ok") else 0),
)


def _epoch(text: str | None) -> float:
    return parse_iso(text).timestamp() if text else 0.0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: Any) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, bool):
        return "1" if value else "0"
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


def render_prometheus(status: dict, labels: dict[str, str] | None = None) -> str:
    """Prometheus text format 0.0.4 for a status dict (as from ``Outbox.status``)."""
    label_text = ""
    if labels:
        label_text = "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items())) + "}"
    lines = []
    for name, kind, help_text, get in METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name}{label_text} {_number(get(status))}")
    return "\n".join(lines) + "\n"
