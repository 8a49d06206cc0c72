"""What a device's state is called on the kiosk, the supervisor page, /healthz, /metrics and in the log.

Readers report many states (``connected``, ``disconnected``, ``retrying``, ``starting``, ``stopped``, a camera
file's ``ended``, a scale's ``not_understood``, a silent scale's ``not_responding``); a person sees five:

* ``connected``       -- it answers and what it sends is understood;
* ``not_responding``  -- the port is open but the device has gone silent;
* ``disconnected``    -- the port cannot be opened or went away (``retrying`` and ``starting`` are still that);
* ``not_understood``  -- bytes arrive but no frame decodes: the wrong profile, baud rate or output mode;
* ``not_ready``       -- a label printer that answers but cannot print (paper out, head open, paused…).

The words are the catalog's ``device:<state>`` entries; each state but ``connected`` also has a
``device:fix_<state>`` entry saying what the packer does (no commands: they call IT), and each device a
``device_name:<name>``. What site IT does (``IT_FIX``, with the commands) is in the log and on /healthz, in English. A device may carry
``notices``: warnings in both languages that are no problem yet (a label printer's ribbon or labels running low).
"""
from __future__ import annotations

from typing import Any

SHOWN = ("connected", "not_responding", "disconnected", "not_understood", "not_ready")


# what site IT does about a state that is a problem: the log line and /healthz say it
IT_FIX = {
    "disconnected": "check that it is plugged in and its port in packgate.toml (packgate config check)",
    "not_responding": "the port is open but nothing arrives: check the cable and the device's power",
    "not_understood": "bytes arrive but no frame decodes: find the profile with packgate device probe --port … "
                      "and set it (scale.profile)",
    "not_ready": "the printer reports a problem (paper, head, ribbon): see its display",
}


def shown(reported: str | None) -> str:
    """The state a person sees for a state a reader reported."""
    return reported if reported in SHOWN else "disconnected"


def entry(reported: str, detail: str | None, port: str | None = None, notices: tuple[dict, ...] = ()) -> dict:
    """One device as the station keeps it: the shown state, what the reader said, its port, its warnings if any."""
    out: dict[str, Any] = {"state": shown(reported), "reported": reported, "detail": detail, "port": port}
    if notices:
        out["notices"] = list(notices)
    return out


def problem(state: str) -> bool:
    return state != "connected"
