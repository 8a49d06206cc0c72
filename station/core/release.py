"""A supervisor's release of the order open at this table (the site hub's "Release claim"), pure.

The release is a decision made elsewhere (the hub's dashboard, with a reason, audited there): the table does not
argue with it. Invariants: the session keeps its packer signed in and drops the order with everything counted for
it (the units go back with the tote, no confirmation is sent: the table no longer holds the order), the kiosk says
who released it and why, and the station's audit log records it with the supervisor as the one who acted.
"""
from __future__ import annotations

from packgate.station.core import packing as pk
from packgate.station.core.effects import AuditEntry, Outcome
from packgate.station.core.verdicts import make


def released(session: pk.PackSession, by: str, by_name: str, reason: str) -> Outcome:
    """``session`` after the supervisor ``by`` released its order: signed in, no order open."""
    order = session.order
    if order is None or session.state not in pk.ORDER_STATES:
        raise ValueError(f"no order open to release (state {session.state})")
    after = pk.PackSession(station=session.station, state=pk.State.SIGNED_IN if session.operator else pk.State.IDLE,
                           operator=session.operator)
    audit = AuditEntry("claim_released", by, session.summary(), after.summary(), reason)
    verdict = make("claim_released", order_id=order.order_id, person=by_name, reason=reason, units=len(session.units))
    return Outcome(after, verdict, [audit])
