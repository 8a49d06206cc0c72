"""The packer's kiosk page at ``/`` (the station PC's own browser, a loopback session).

Invariant: the page shows a "demo devices" panel only when the app serving it is a demo's (``shared.DEMO_PANEL``,
set by ``packgate.station.demo.web``); a production station's kiosk has none.
"""
from __future__ import annotations

from flask import Blueprint

from packgate.station.web.shared import demo_panel, page

bp = Blueprint("kiosk", __name__)


@bp.get("/")
def kiosk() -> str:
    panel = demo_panel()
    return page("kiosk.html", demo=panel() if panel else None)
