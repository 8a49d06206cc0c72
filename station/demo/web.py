"""The demo's routes: the kiosk's "demo devices" panel presses a badge, scans a code or puts weight on the scale,
and every press goes through an emulator (``rig.DemoDevices``), never around it.

Invariants: only the demo registers this blueprint (``register_demo``); a production station's app has no
``/api/v1/demo/*`` route (a 404 like any unknown path) and its kiosk no panel. The routes sit behind the app's
guard like every other (a session and its CSRF token, or an API token). A field is a string of at most 512
characters, else a 400 verdict naming it.
"""
from __future__ import annotations

from typing import Protocol, cast

from flask import Blueprint, Flask, Response, abort, current_app, jsonify

from packgate.station.core.verdicts import bad_field
from packgate.station.web.shared import DEMO_PANEL, json_body, verdict

MAX_TEXT = 512
_DEVICES = "packgate.demo_devices"


class DemoPanel(Protocol):
    """What the panel drives (``rig.DemoDevices``): each press answers ``{"ok": ..., "message": ...}``."""

    def panel(self) -> dict: ...

    def tap(self, uid: str) -> dict: ...

    def scan(self, code: str) -> dict: ...

    def weigh(self, grams: str) -> dict: ...


bp = Blueprint("demo", __name__)


def register_demo(app: Flask, devices: DemoPanel) -> None:
    """Give ``app`` (a station's, before it serves) the demo's routes and the kiosk its panel."""
    app.extensions[_DEVICES] = devices
    app.extensions[DEMO_PANEL] = devices.panel
    app.register_blueprint(bp)


def _devices() -> DemoPanel:
    return cast(DemoPanel, current_app.extensions[_DEVICES])


def _text(name: str, default: str) -> str:
    value = json_body().get(name, default)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        abort(verdict(bad_field(name, "string"), 400))
    return value


@bp.post("/api/v1/demo/tap")
def demo_tap() -> Response:
    return jsonify(_devices().tap(_text("uid", "")))


@bp.post("/api/v1/demo/scan")
def demo_scan() -> Response:
    return jsonify(_devices().scan(_text("code", "")))


@bp.post("/api/v1/demo/scale")
def demo_scale() -> Response:
    return jsonify(_devices().weigh(_text("grams", "0")))
