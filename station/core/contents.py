"""What a parcel must hold: ordered items, gifts (赠品) and accessories (配件), and kits as their components.

``Contents.of(order, catalog)`` turns the order's lines into ``Need`` rows, one per line, in line order. A kit is
a SKU with ``components``: the packer scans either every component (each unit counts towards the kit) or, for
a pre-packed kit, the kit's own code (which counts one whole kit). ``Contents.progress(scans)`` allocates the
scanned SKU codes to the needs; it is a function of the scan list alone, so it survives a restart as that list.

Invariants:

* a scan goes to the first need (in line order) that still has room for it: a line naming the SKU itself
  first, then a kit with room for it as a component; a scan with no room anywhere is refused by ``room_for``;
* a kit counts as packed when all its components are (``qty`` per kit) or its own code was scanned; a
  kit's weight is the sum of its components' weights (its own catalog weight is not used);
* ``missing`` names what is still to pack with its line kind, gifts and accessories apart from items, so a
  verdict can say "the accessory (charger) is missing" rather than "1 unit missing";
* ``weight_items`` is what the parcel weighs: kits expanded into components, the same SKU summed.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from packgate.station.core import texts
from packgate.station.core.models import CatalogView, Component, LineKind, Order, Sku


@dataclass(frozen=True)
class Need:
    """One order line: ``qty`` units of ``sku`` (a kit's own code for a kit, then ``components`` per kit)."""

    line: int
    kind: LineKind
    sku: str
    name: str
    qty: int
    components: tuple[Component, ...] = ()
    part_names: tuple[tuple[str, str], ...] = ()  # kits: component SKU -> its name, for the screen

    @property
    def is_kit(self) -> bool:
        return bool(self.components)


@dataclass(frozen=True)
class Missing:
    """What one need still lacks: whole units of ``sku``, or (``of_kit``) units of one kit's component."""

    kind: LineKind
    sku: str
    name: str
    qty: int
    of_kit: str | None = None


@dataclass(frozen=True)
class NeedProgress:
    need: Need
    whole: int  # units scanned under the line's own code (a pre-packed kit counts here)
    parts: tuple[tuple[str, int], ...] = ()  # kits: component SKU -> units scanned as components

    @property
    def done(self) -> int:
        """Complete units: own-code scans plus kits whose every component is in."""
        if not self.need.is_kit:
            return self.whole
        have = dict(self.parts)
        return self.whole + min(have.get(c.sku, 0) // c.qty for c in self.need.components)

    def room_for(self, sku: str) -> bool:
        if sku == self.need.sku:
            return self.whole + self._kits_started() < self.need.qty
        per_kit = {c.sku: c.qty for c in self.need.components}
        if sku not in per_kit:
            return False
        return dict(self.parts).get(sku, 0) < (self.need.qty - self.whole) * per_kit[sku]

    def _kits_started(self) -> int:
        """Kits some of whose components were scanned (they cannot also arrive pre-packed)."""
        have = dict(self.parts)
        return max((-(-have.get(c.sku, 0) // c.qty) for c in self.need.components), default=0)

    def missing(self) -> list[Missing]:
        n = self.need
        if not n.is_kit:
            return [Missing(n.kind, n.sku, n.name, n.qty - self.whole)] if self.whole < n.qty else []
        have, kits = dict(self.parts), n.qty - self.whole
        if not any(have.values()):  # nothing of it yet: the kit itself is missing
            return [Missing(n.kind, n.sku, n.name, kits)] if kits > 0 else []
        names = dict(n.part_names)
        return [Missing(n.kind, c.sku, names.get(c.sku, c.sku), kits * c.qty - have.get(c.sku, 0), of_kit=n.name)
                for c in n.components if have.get(c.sku, 0) < kits * c.qty]


@dataclass(frozen=True)
class Progress:
    needs: tuple[NeedProgress, ...]
    refused: tuple[str, ...] = ()  # scans that had no room (not in the order, or over quantity)

    @property
    def complete(self) -> bool:
        return all(p.done >= p.need.qty for p in self.needs)

    def missing(self) -> list[Missing]:
        return [m for p in self.needs for m in p.missing()]

    def room_for(self, sku: str) -> Need | None:
        """The need a scan of ``sku`` would count towards now, or None (not in the order / over quantity)."""
        found = _slot(self.needs, sku)
        return None if found is None else self.needs[found].need


def _slot(needs: tuple[NeedProgress, ...], sku: str) -> int | None:
    own = [i for i, p in enumerate(needs) if p.need.sku == sku and p.room_for(sku)]
    part = [i for i, p in enumerate(needs) if p.need.sku != sku and p.room_for(sku)]
    found = own or part
    return found[0] if found else None


@dataclass(frozen=True)
class Contents:
    needs: tuple[Need, ...]

    @classmethod
    def of(cls, order: Order, catalog: CatalogView) -> "Contents":
        needs = []
        for i, line in enumerate(order.lines):
            sku = catalog.sku(line.sku)
            parts = sku.components if sku else ()
            names = tuple((c.sku, _name(catalog.sku(c.sku), c.sku)) for c in parts)
            needs.append(Need(i, line.kind, line.sku, _name(sku, line.sku), line.qty, parts, names))
        return cls(tuple(needs))

    def progress(self, scans: Iterable[str]) -> Progress:
        """Allocate the scanned SKU codes (canonical SKU codes, in scan order) to the needs."""
        state = tuple(NeedProgress(n, 0) for n in self.needs)
        refused: list[str] = []
        for sku in scans:
            slot = _slot(state, sku)
            if slot is None:
                refused.append(sku)
                continue
            p = state[slot]
            if sku == p.need.sku:
                p = NeedProgress(p.need, p.whole + 1, p.parts)
            else:
                parts = Counter(dict(p.parts))
                parts[sku] += 1
                p = NeedProgress(p.need, p.whole, tuple(sorted(parts.items())))
            state = state[:slot] + (p,) + state[slot + 1:]
        return Progress(state, tuple(refused))

    def weight_items(self, catalog: CatalogView) -> list[tuple[Sku, int]]:
        """(Sku, qty) the parcel weighs when complete: kits as their components; an unknown SKU carries no weight."""
        total: Counter[str] = Counter()
        for n in self.needs:
            for sku, qty in ([(c.sku, c.qty) for c in n.components] if n.is_kit else [(n.sku, 1)]):
                total[sku] += qty * n.qty
        return [(catalog.sku(code) or Sku(code, None, code, None), qty) for code, qty in total.items()]

    def by_kind(self) -> dict[LineKind, tuple[Need, ...]]:
        """The needs grouped for the screen: items, then gifts and accessories apart."""
        return {kind: tuple(n for n in self.needs if n.kind is kind) for kind in LineKind}


def _name(sku: Sku | None, code: str) -> str:
    return sku.name if sku is not None and sku.name else code


def missing_words(missing: Iterable[Missing], lang: str) -> str:
    """``missing`` as a person reads it: "2 × Charger (accessory); 1 × Cable (part of KIT-1)"."""
    sep = "; " if lang == "en" else "；"
    out = []
    for m in missing:
        kind = "" if m.kind is LineKind.ITEM else texts.text(lang, f"word:{m.kind}", str(m.kind))
        kit = texts.fill(texts.text(lang, "word:part_of_kit", "part of {kit}"), {"kit": m.of_kit}, lang) if m.of_kit else ""
        notes = ", ".join(x for x in (kind, kit) if x) if lang == "en" else "，".join(x for x in (kind, kit) if x)
        shown = f"{m.qty} × {m.name}"
        out.append(shown + ((f" ({notes})" if lang == "en" else f"（{notes}）") if notes else ""))
    return sep.join(out)
