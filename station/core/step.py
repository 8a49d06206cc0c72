"""The one transition helper of the pure state machines (packing and picking).

A machine is a table of allowed events per state (each with the states it may lead to), a handler per
event and the next step per state; ``run`` applies one event and checks the table held.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from packgate.station.core.effects import Outcome
from packgate.station.core.verdicts import make
from packgate.station.errors import StationError


class HasState(Protocol):
    @property
    def state(self) -> Any: ...


class Named(Protocol):
    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=HasState)
C = TypeVar("C")


@dataclass(frozen=True)
class Machine(Generic[S, C]):
    name: str
    transitions: Mapping[Any, Mapping[str, Any]]  # state -> event name -> states it may lead to
    handlers: Mapping[str, Callable[[S, Any, C], Outcome]]
    next_in_state: Mapping[Any, str]

    def run(self, session: S, event: Named, ctx: C) -> Outcome:
        """Apply ``event``; a refusal leaves the session unchanged and has no effects."""
        allowed = self.transitions[session.state]
        if event.name not in allowed:
            return refuse(session, "not_allowed_now", next=self.next_in_state[session.state],
                          event=event.name, state=str(session.state))
        outcome = self.handlers[event.name](session, event, ctx)
        new_state = outcome.session.state
        if new_state != session.state and new_state not in allowed[event.name]:
            raise StationError(f"bug: {event.name} led from {session.state} to {new_state}, not in {self.name}")
        return outcome


def refuse(session: Any, code: str, /, next: str | None = None, **data: Any) -> Outcome:
    return Outcome(session, make(code, next=next, status="error", **data), [])
