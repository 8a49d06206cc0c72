"""Carrier rules (承运商规则), pure: may a label be made for this carrier, to this region, today?

A carrier is suspended for some regions (weather, an outage; ``"*"``: everywhere) or capped per day (a peak-day
cap). Rules come from the WMS (reference kind ``carriers``) and from the site (``carriers.rules``); the WMS's row for a
carrier replaces the site's. The answer is one ``CarrierCheck``: go on, refused (with the backup carrier offered), or
switched to the backup (when the site lets the station switch by itself, ``carriers.auto_switch``).

    check = decide("SF", "XZ", rules, used_today={"SF": 120}, auto_switch=False)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from packgate.station.errors import ReferenceDataError

GO, REFUSED, SWITCHED = "go", "refused", "switched"


@dataclass(frozen=True)
class CarrierRule:
    carrier: str
    suspended_regions: frozenset[str] = frozenset()  # upper-case region codes; "*" for every region
    daily_cap: int | None = None  # labels per day (None: no cap)
    backup: str | None = None
    reason: str = ""

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], carrier: str | None = None) -> "CarrierRule":
        name = carrier or row.get("carrier")
        if not isinstance(name, str) or not name.strip():
            raise ReferenceDataError("carrier rule without a carrier")
        regions = row.get("suspended_regions") or []
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise ReferenceDataError(f"carrier {name}: suspended_regions must be a list of region codes")
        cap = row.get("daily_cap")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
            raise ReferenceDataError(f"carrier {name}: daily_cap must be a whole number 0 or more (got {cap!r})")
        backup = row.get("backup")
        if backup is not None and (not isinstance(backup, str) or not backup.strip()):
            raise ReferenceDataError(f"carrier {name}: backup must be a carrier code")
        return cls(name.strip(), frozenset(r.strip().upper() for r in regions if r.strip()), cap,
                   backup.strip() if backup else None, str(row.get("reason") or ""))

    def suspends(self, region: str | None) -> bool:
        return "*" in self.suspended_regions or (region is not None and region.upper() in self.suspended_regions)

    def as_dict(self) -> dict[str, Any]:
        return {"carrier": self.carrier, "suspended_regions": sorted(self.suspended_regions),
                "daily_cap": self.daily_cap, "backup": self.backup, "reason": self.reason}


@dataclass(frozen=True)
class CarrierCheck:
    outcome: str  # go | refused | switched
    carrier: str | None  # the carrier the label is for (the backup when switched)
    booked: str | None  # the carrier the WMS booked
    why: str = ""  # suspended | capped
    backup: str | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "carrier": self.carrier, "booked": self.booked, "why": self.why,
                "backup": self.backup, "reason": self.reason}


def merged(site: Mapping[str, Any], wms: list[Mapping[str, Any]]) -> dict[str, CarrierRule]:
    """The rules in force: the site's table (``carriers.rules``), each replaced by the WMS's row for that carrier."""
    rules = {name: CarrierRule.from_dict(row, name) for name, row in site.items() if isinstance(row, Mapping)}
    for row in wms:
        rule = CarrierRule.from_dict(row)
        rules[rule.carrier] = rule
    return rules


def blocked(rule: CarrierRule | None, region: str | None, used_today: int) -> str:
    """Why ``rule`` stops a label ("suspended", "capped"), or ""."""
    if rule is None:
        return ""
    if rule.suspends(region):
        return "suspended"
    if rule.daily_cap is not None and used_today >= rule.daily_cap:
        return "capped"
    return ""


def decide(carrier: str | None, region: str | None, rules: Mapping[str, CarrierRule], used_today: Mapping[str, int],
           auto_switch: bool) -> CarrierCheck:
    """The check of one label: a booked carrier that is suspended or at its cap is refused, with its backup offered
    when the backup itself may take the parcel; switched to it when ``auto_switch``."""
    if not carrier:
        return CarrierCheck(GO, carrier, carrier)
    rule = rules.get(carrier)
    why = blocked(rule, region, used_today.get(carrier, 0))
    if not why:
        return CarrierCheck(GO, carrier, carrier)
    assert rule is not None
    backup = rule.backup if rule.backup and not blocked(rules.get(rule.backup), region,
                                                          used_today.get(rule.backup, 0)) else None
    if backup is not None and auto_switch:
        return CarrierCheck(SWITCHED, backup, carrier, why, backup, rule.reason)
    return CarrierCheck(REFUSED, carrier, carrier, why, backup, rule.reason)
