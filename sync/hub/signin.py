"""Supervisors sign in to the dashboard with badge + PIN and sign out; the session is server-side (``hub_sessions``).

Invariants: only an employee with role ``supervisor`` whose PIN matches its ``pin_hash`` signs in; 5 wrong PINs for
one employee (whatever form the badge string takes) lock it for 5 minutes, as at the station (``Lockout``, one per
app); every attempt, refused or not, is in the audit log; signing out deletes the session (the old cookie opens
nothing) and needs the form's CSRF token.
"""
from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, current_app, redirect, request
from flask.blueprints import BlueprintSetupState

from packgate.device.codes import canonical_badge
from packgate.sync.common.pins import Lockout
from packgate.sync.hub import store
from packgate.sync.hub.auth import COOKIE, new_token, pin_matches
from packgate.sync.hub.web import HUB, TEXT, checked_session, hub, lang, page

bp = Blueprint("signin", __name__)
_LOCKOUT = "packgate.hub.lockout"


@bp.record_once
def _lockout(state: BlueprintSetupState) -> None:
    state.app.extensions[_LOCKOUT] = Lockout(state.app.extensions[HUB].clock.monotonic)


@bp.post("/login")
def login() -> Any:
    lockout = cast(Lockout, current_app.extensions[_LOCKOUT])
    badge, pin = request.form.get("badge", "")[:64], request.form.get("pin", "")[:64]
    with hub().db.read() as conn:
        employee = store.employee_by_badge(conn, badge) or store.ref_get(conn, "employees", badge.strip())
    target = employee["employee_id"] if employee else f"badge:{canonical_badge(badge)}"
    if lockout.wait_s(target):  # per employee, whatever form the badge string takes
        with hub().db.tx() as conn:
            store.audit(conn, hub().clock.now(), target, "sign_in_locked", "dashboard", None, None)
        return page("signin.html", status=429, error=TEXT[lang()]["locked"])
    if employee is None or employee.get("role") != "supervisor" or not pin or not pin_matches(employee, pin):
        lockout.failed(target)
        with hub().db.tx() as conn:
            store.audit(conn, hub().clock.now(), target, "sign_in_failed", "dashboard", None, None)
        return page("signin.html", status=401, error=TEXT[lang()]["bad_sign_in"])
    token = new_token()
    with hub().db.tx() as conn:
        store.create_session(conn, token, employee["employee_id"], new_token(), hub().clock.now(),
                             hub().config["dashboard.session_s"])
        store.audit(conn, hub().clock.now(), employee["employee_id"], "sign_in", "dashboard", None, None)
    resp = redirect("/", 303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", max_age=int(hub().config["dashboard.session_s"]))
    return resp


@bp.post("/logout")
def logout() -> Any:
    session = checked_session()
    with hub().db.tx() as conn:
        store.delete_session(conn, session["token"])
    resp = redirect("/", 303)
    resp.delete_cookie(COOKIE)
    return resp
