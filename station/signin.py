"""Badge + PIN, checked by the station: PDA and supervisor sign-in, and the proof of presence an API client or
the supervisor page gives for an approval.

Failures count per employee, whatever form the badge string takes (``5E:7D:10:B4``, ``5e7d10b4:`` or the
employee id all name the same person): after ``ATTEMPTS`` wrong PINs within ``LOCK_S`` that employee is locked
for the rest of the window. Every failure is audited with the employee (or the badge) it targeted.
"""
from __future__ import annotations

import logging

from packgate.device.clock import isoformat
from packgate.device.codes import canonical_badge
from packgate.station import store
from packgate.station.core.models import Employee
from packgate.station.core.verdicts import answer
from packgate.station.parts import Parts
from packgate.sync.common.db import write_tx
from packgate.sync.common.pins import Lockout, pin_matches

log = logging.getLogger("packgate.station")

ATTEMPTS, LOCK_S = 5, 300.0  # wrong PINs per employee before a 5-minute lock
MAX_PIN_CHARS = 64


class PinCheck:
    def __init__(self, parts: Parts):
        self.parts = parts
        self.lockout = Lockout(parts.clock.monotonic, ATTEMPTS, LOCK_S)

    def employee(self, badge: str) -> Employee | None:
        """The employee a badge string names: by canonical badge UID, else by employee id."""
        catalog = self.parts.catalog
        text = (badge or "").strip()
        return (catalog.employee_by_badge(canonical_badge(text)) if canonical_badge(text) else None) \
            or (catalog.employee_by_id(text) if text else None)

    def verify(self, badge: str, pin: str, purpose: str, terminal: str) -> Employee | dict:
        """The employee whose badge and PIN these are, or the answer to give (locked / wrong)."""
        p = self.parts
        employee = self.employee(badge)
        target = employee.employee_id if employee else f"badge:{canonical_badge(badge)[-32:] or '-'}"
        wait = self.lockout.wait_s(target)
        if wait:
            return answer("login_locked", wait=wait)
        if employee is not None and len(pin) <= MAX_PIN_CHARS and pin_matches(employee.pin_hash, pin.strip()):
            self.lockout.passed(target)
            return employee
        attempts = self.lockout.failed(target)
        why = "no such badge" if employee is None else "no PIN given" if not pin.strip() else "PIN refused"
        log.warning("wrong badge code or PIN (%s: %s)", target, why,
                    extra={"fields": {"target": target, "purpose": purpose}})
        with p.lock, write_tx(p.conn) as conn:
            store.add_audit(conn, isoformat(p.clock.now()), target, "pin_failed", target, None,
                            {"attempts": attempts}, purpose, terminal)
        return answer("bad_login")
