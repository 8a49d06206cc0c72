"""A stable reading where the scale never flags one: unchanged within one division for ``hold_s`` seconds.

``Steady`` is an immutable tracker fed every reading with the time it arrived on an injected monotonic clock
(``Clock.monotonic()``). ``feed`` returns the new tracker and, once per settling, the settled weight:

* a reading further than one division from the period's first reading (the anchor) starts a new period;
* the period settles when the scale flags the reading stable, or when it has stayed within one division
  of the anchor for ``hold_s`` seconds; the settled weight is the reading that completes it;
* a period reports once: the same load staying on the scale is not reported again until it changes;
* no reading (None: an error or an overload frame) starts afresh; so does time running backwards (that
  reading opens the new period).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

DEFAULT_HOLD_S = 0.5


@dataclass(frozen=True)
class Steady:
    anchor_g: Decimal | None = None
    since: float | None = None  # monotonic seconds the period started
    last: float | None = None  # monotonic seconds of the last reading
    reported: bool = False

    def feed(self, t: float, grams: Decimal | None, flagged: bool, division_g: Decimal,
             hold_s: float = DEFAULT_HOLD_S) -> tuple["Steady", Decimal | None]:
        if grams is None:
            return Steady(), None
        backwards = self.last is not None and t < self.last
        if backwards or self.anchor_g is None or self.since is None or abs(grams - self.anchor_g) > division_g:
            current = Steady(grams, t, t, False)
        else:
            current = replace(self, last=t)
        assert current.since is not None
        if not current.reported and (flagged or t - current.since >= hold_s - 1e-9):  # (float sums of a tick)
            return replace(current, reported=True), grams
        return current, None
