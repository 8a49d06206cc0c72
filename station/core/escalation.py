"""When to escalate an order that was picked but not packed. Pure: no timers, no threads.

Level N is due at ``picked_at + levels[N].after`` (default: level 1 at 12 min to the shift
supervisor, releasing the order's priority to any packer; level 2 at 22 min, i.e. 10 min later).
An escalation is due when ``now >= deadline`` (at 12:00.000 yes, at 11:59.999 no), and is returned
once: the caller records (order_id, level) as fired in the same transaction as the notification's
outbox row and passes that set back in, so a restart never sends it twice. Nothing is due for an
order that is packed or acknowledged, or that the WMS holds or cancelled; an order the WMS held and released
is due as much later as it was held.

The caller sleeps until ``next_deadline(...)`` (or until something changes), never on a fixed tick.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import AbstractSet, Mapping

from packgate.device.clock import isoformat
from packgate.station.core import texts
from packgate.station.errors import ConfigError, StationError


@dataclass(frozen=True)
class EscalationLevel:
    level: int
    after: timedelta  # measured from picked_at
    target: str  # who is told: routing key for the notifier (e.g. "shift_supervisor")
    release_priority: bool = False  # release the order to any packer


@dataclass(frozen=True)
class EscalationConfig:
    levels: tuple[EscalationLevel, ...] = (
        EscalationLevel(1, timedelta(minutes=12), "shift_supervisor", release_priority=True),
        EscalationLevel(2, timedelta(minutes=22), "site_manager"),
    )

    def __post_init__(self) -> None:
        numbers = [lv.level for lv in self.levels]
        afters = [lv.after for lv in self.levels]
        if not self.levels or len(set(numbers)) != len(numbers) or numbers != sorted(numbers):
            raise ConfigError("escalation levels: need at least one, numbered in ascending order without repeats")
        if any(a <= timedelta(0) for a in afters) or any(b <= a for a, b in zip(afters, afters[1:], strict=False)):
            raise ConfigError("escalation levels: each delay must be positive and later than the previous level's")

    @classmethod
    def from_minutes(cls, first_after_min: float = 12, second_after_min: float | None = 22) -> "EscalationConfig":
        """From packgate.toml: ``escalation.first_after_min`` and ``escalation.second_after_min``, both counted
        from the pick (None: one level only)."""
        levels = [EscalationLevel(1, timedelta(minutes=first_after_min), "shift_supervisor", release_priority=True)]
        if second_after_min is not None:
            levels.append(EscalationLevel(2, timedelta(minutes=second_after_min), "site_manager"))
        return cls(tuple(levels))


DEFAULT = EscalationConfig()


@dataclass(frozen=True)
class Escalation:
    order_id: str
    level: int
    deadline: datetime
    picked_at: datetime
    target: str
    release_priority: bool

    @property
    def key(self) -> tuple[str, int]:
        """What to add to the fired set once the notification is committed."""
        return (self.order_id, self.level)


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise StationError(f"{what} {moment!r} has no UTC offset; refusing to guess the time zone")
    return moment


def pending(picked_at: Mapping[str, datetime], config: EscalationConfig = DEFAULT,
            fired: AbstractSet[tuple[str, int]] = frozenset(), acknowledged: AbstractSet[str] = frozenset(),
            packed: AbstractSet[str] = frozenset(),
            paused: Mapping[str, timedelta] | None = None) -> list[Escalation]:
    """Every escalation still to fire (whatever its deadline), soonest first. ``packed``: the orders packed, or
    held or cancelled by the WMS (nothing of theirs is pending); ``paused``: how long the WMS held an order, its
    deadlines come that much later."""
    found = []
    for order_id, moment in picked_at.items():
        if order_id in packed or order_id in acknowledged:
            continue
        _aware(moment, f"picked_at of {order_id}")
        later = (paused or {}).get(order_id, timedelta(0))
        for lv in config.levels:
            if (order_id, lv.level) not in fired:
                found.append(Escalation(order_id, lv.level, moment + lv.after + later, moment, lv.target,
                                        lv.release_priority))
    return sorted(found, key=lambda e: (e.deadline, e.order_id, e.level))


def due(picked_at: Mapping[str, datetime], now: datetime, config: EscalationConfig = DEFAULT,
        fired: AbstractSet[tuple[str, int]] = frozenset(), acknowledged: AbstractSet[str] = frozenset(),
        packed: AbstractSet[str] = frozenset(), paused: Mapping[str, timedelta] | None = None) -> list[Escalation]:
    """The escalations to send now: deadline <= now, not fired, order neither packed nor acknowledged.

    ``picked_at``: order id -> when it was picked (aware datetimes). After a long outage several
    levels of one order can be due at once; they come back in level order.
    """
    _aware(now, "now")
    return [e for e in pending(picked_at, config, fired, acknowledged, packed, paused) if e.deadline <= now]


def next_deadline(picked_at: Mapping[str, datetime], config: EscalationConfig = DEFAULT,
                  fired: AbstractSet[tuple[str, int]] = frozenset(), acknowledged: AbstractSet[str] = frozenset(),
                  packed: AbstractSet[str] = frozenset(),
                  paused: Mapping[str, timedelta] | None = None) -> datetime | None:
    """When the next escalation falls due (possibly already past: then call ``due`` now); None if none."""
    left = pending(picked_at, config, fired, acknowledged, packed, paused)
    return left[0].deadline if left else None


# part -> (en, zh), the source and seed of the catalog keys ``escalation:<part>``;
# fields: order_id, tote, picked_at, waited (a duration), level, deadline
TEMPLATES: dict[str, tuple[str, str]] = {
    "title": ("packgate: order {order_id} not packed (level {level})", "packgate：订单{order_id}未打包（{level}级）"),
    "body": ("Order {order_id} (tote {tote}) was picked at {picked_at} and is still not packed after {waited}.",
             "订单{order_id}（周转箱{tote}）已于{picked_at}拣货完成，{waited}后仍未打包。"),
    "release": ("Its priority is released to any packer.", "该订单已释放给任意打包员优先处理。"),
    "ack": ("Acknowledge on the supervisor page to stop further escalation.", "请在主管页面确认，以停止后续升级。"),
}


def message(esc: Escalation, now: datetime, tote: str | None = None, lang: str = "en") -> tuple[str, str]:
    """(title, body) of the notification in ``lang`` ("en" or "zh")."""
    i = 0 if lang == "en" else 1
    fields = {"order_id": esc.order_id, "tote": tote or "-", "picked_at": isoformat(esc.picked_at),
              "waited": now - esc.picked_at, "level": esc.level}
    names = ["body"] + (["release"] if esc.release_priority else []) + ["ack"]

    def say(part: str) -> str:
        return texts.fill(texts.text(lang, f"escalation:{part}", TEMPLATES[part][i]), fields, lang)

    sep = " " if i == 0 else ""
    return say("title"), sep.join(say(part) for part in names)
