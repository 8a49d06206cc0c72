"""Supervisors sign in to the dashboard with badge + PIN and sign out; the session is server-side (``hub_sessions``).

Invariants:

* Only an employee with role ``supervisor`` whose PIN matches its ``pin_hash`` signs in.
* **Lockout in the database**: every attempt for one employee (whatever form the badge string takes) is counted in
  ``hub_signin_failures`` before its PIN is checked, on the hub's clock; the 6th within 5 minutes of the first locks
  the employee for 5 minutes, on every hub of the site and across restarts (the station's rule: 5 wrong PINs). A
  sign-in resets the count.
* **CSRF on the sign-in form** (double submit): the form page sets a random token in a SameSite=Strict cookie and the
  same in the form; a POST without both, or with an ``Origin`` the hub does not answer to, is refused (403) before
  any PIN is looked at. Signing out needs the session's CSRF token.
* The session id is only in the supervisor's cookie; the hub keeps its hash (``auth.session_key``).
* Every attempt, refused or not, is in the audit log; signing out deletes the session (the old cookie opens nothing).
"""
from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, redirect, request

from packgate.device.codes import canonical_badge
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import store
from packgate.sync.hub.auth import COOKIE, LOGIN_COOKIE, new_token, pin_matches, session_key
from packgate.sync.hub.dashtext import words
from packgate.sync.hub.web import checked_session, hub, lang, page

bp = Blueprint("signin", __name__)
ATTEMPTS = 5
WINDOW_S = 300.0


def signin_page(status: int = 200, error: str | None = None) -> Response:
    """The sign-in form with a fresh CSRF token, in the form and in its cookie."""
    token = new_token()
    resp = page("signin.html", status=status, error=error, login_csrf=token)
    resp.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", path="/login",
                    secure=bool(hub().config["site.tls_cert"]))
    return resp


def _form_is_ours() -> None:
    sent, kept = request.form.get("csrf", ""), request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
        raise HubRequestError("the sign-in form's CSRF token is missing or stale; open the dashboard and sign in there",
                              403)


@bp.post("/login")
def login() -> Any:
    _form_is_ours()
    badge, pin = request.form.get("badge", "")[:64], request.form.get("pin", "")[:64]
    site = hub()
    with site.db.read() as conn:
        employee = store.employee_by_badge(conn, badge) or store.ref_get(conn, "employees", badge.strip())
    target = employee["employee_id"] if employee else f"badge:{canonical_badge(badge)}"
    now = site.clock.now()
    with site.db.tx() as conn:  # counted before the PIN is checked: parallel guesses count too, on every hub
        wait_s = store.sign_in_attempt(conn, target, now, ATTEMPTS, WINDOW_S)
        if wait_s:
            store.audit(conn, now, target, "sign_in_locked", "dashboard", None, {"wait_s": round(wait_s)})
    if wait_s:
        return signin_page(429, words(lang())["locked"])
    if employee is None or employee.get("role") != "supervisor" or not pin or not pin_matches(employee, pin):
        with site.db.tx() as conn:
            store.audit(conn, site.clock.now(), target, "sign_in_failed", "dashboard", None, None)
        return signin_page(401, words(lang())["bad_sign_in"])
    token = new_token()
    with site.db.tx() as conn:
        store.sign_in_passed(conn, target)
        store.create_session(conn, session_key(token), employee["employee_id"], new_token(), site.clock.now(),
                             site.config["dashboard.session_s"])
        store.audit(conn, site.clock.now(), employee["employee_id"], "sign_in", "dashboard", None, None)
    resp = redirect("/", 303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", max_age=int(site.config["dashboard.session_s"]),
                    secure=bool(site.config["site.tls_cert"]))
    resp.delete_cookie(LOGIN_COOKIE, path="/login")
    return resp


@bp.post("/logout")
def logout() -> Any:
    session = checked_session()
    with hub().db.tx() as conn:
        store.delete_session(conn, session["token"])
    resp = redirect("/", 303)
    resp.delete_cookie(COOKIE)
    return resp
