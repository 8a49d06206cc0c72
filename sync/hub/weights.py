"""The site's learned weights, held by the hub for every table (issue 30): what each table learned, pooled into the
site's figures; the supervisors' accept / reset decisions; the suspect-weight review as the tables last saw it.

Every table learns from the parcels it weighed (``station/weights.py``) and sends its snapshot here
(``post_figures``: per SKU, box and parcel signature the mean, σ, n, the standard error and sample parcels; the
overridden evidence apart) with the review it computed on the site's figures. ``site_figures`` pools the tables'
snapshots figure by figure (n-weighted means, the pooled spread within and between tables), so parcels packed at one
table teach the gate at every other; each table keeps the last answer in station.db and judges on it offline.

A decision (``decide``) is the site's, not a table's: it is taken once per SKU and review (``prev``: the last
decision of that SKU the deciding table knew; another one since is a 409 naming who decided), audited, and an
acceptance queues the one ``weight_learned`` confirmation the WMS gets (the hub's own, keyed by the decision), in the
same transaction. Every table applies the site's decisions in their order.

Invariants: a table's snapshot replaces its previous one (a repeat changes nothing); ``version`` grows with every
change of the figures or decisions, so a table fetches only when something changed; figures are checked (numbers,
n >= 0) before they are kept: a garbled snapshot is refused whole with the reason, never half kept.
"""
from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from packgate.device.clock import isoformat
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn

ACTIONS = ("accept", "reset")
SAMPLES = 5
MAX_FIGURES = 200_000
FIGURE_SETS = ("skus", "boxes", "overridden")
_CENT = Decimal("0.01")


# ---- checking what a table sends -----------------------------------------------------------------------
def _number(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0 or abs(number) > Decimal(10) ** 9:
        raise HubRequestError(f"{what} must be a number of grams >= 0 (got {value!r})")
    return number


def _figure(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HubRequestError(f"{what} must be an object with mean_g, sigma_g, n")
    n = value.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < 2**31:
        raise HubRequestError(f"{what}.n must be a whole number >= 0")
    samples = value.get("samples", [])
    if not isinstance(samples, list) or not all(isinstance(s, str) and len(s) <= 200 for s in samples):
        raise HubRequestError(f"{what}.samples must be a list of parcel ids")
    return {"mean_g": str(_number(value.get("mean_g"), f"{what}.mean_g")),
            "sigma_g": str(_number(value.get("sigma_g"), f"{what}.sigma_g")), "n": n,
            "se_g": str(_number(value.get("se_g", "0"), f"{what}.se_g")), "samples": samples[-SAMPLES:]}


def checked_learned(value: Any) -> dict[str, Any]:
    """A table's snapshot (``Learned.as_dict``) with every figure checked, or ``HubRequestError`` naming the problem."""
    if not isinstance(value, dict):
        raise HubRequestError("learned must be an object (skus, boxes, signatures, overridden, parcels)")
    out: dict[str, Any] = {}
    count = 0
    for name in FIGURE_SETS:
        figures = value.get(name, {})
        if not isinstance(figures, dict):
            raise HubRequestError(f"learned.{name} must be an object of code -> figure")
        count += len(figures)
        out[name] = {str(k)[:128]: _figure(f, f"learned.{name}[{k}]") for k, f in figures.items()}
    signatures = value.get("signatures", [])
    if not isinstance(signatures, list):
        raise HubRequestError("learned.signatures must be a list")
    count += len(signatures)
    if count > MAX_FIGURES:
        raise HubRequestError(f"at most {MAX_FIGURES} figures in one snapshot", 413)
    out["signatures"] = []
    for i, sig in enumerate(signatures):
        items = sig.get("items") if isinstance(sig, dict) else None
        if not (isinstance(sig, dict) and isinstance(sig.get("box"), str) and isinstance(items, list) and items
                and all(isinstance(it, list) and len(it) == 2 and isinstance(it[0], str)
                        and isinstance(it[1], int) and not isinstance(it[1], bool) and it[1] > 0 for it in items)):
            raise HubRequestError(f"learned.signatures[{i}] must have box and items [[sku, qty > 0], ...]")
        out["signatures"].append({"box": sig["box"], "items": sorted([it[0], it[1]] for it in items),
                                  **_figure(sig, f"learned.signatures[{i}]")})
    parcels = value.get("parcels", 0)
    out["parcels"] = parcels if isinstance(parcels, int) and not isinstance(parcels, bool) and parcels >= 0 else 0
    return out


# ---- pooling the tables' figures -----------------------------------------------------------------------
def pool(figures: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """One figure from the tables' figures of the same thing: n = Σ n_i, the n-weighted mean, σ from the spread
    within and between tables, the standard error of the weighted mean, the newest samples."""
    parts = [(Decimal(f["mean_g"]), Decimal(f["sigma_g"]), int(f["n"]), Decimal(f.get("se_g", "0")),
              list(f.get("samples", []))) for f in figures if int(f["n"]) > 0]
    if not parts:
        return None
    n = sum(p[2] for p in parts)
    mean = sum((p[0] * p[2] for p in parts), Decimal(0)) / n
    within = sum((p[1] ** 2 * (p[2] - 1) for p in parts), Decimal(0))
    between = sum(((p[0] - mean) ** 2 * p[2] for p in parts), Decimal(0))
    sigma = ((within + between) / max(n - 1, 1)).sqrt()
    se = (sum(((p[3] * p[2]) ** 2 for p in parts), Decimal(0)).sqrt() / n) if len(parts) > 1 else parts[0][3]
    samples = [s for p in parts for s in p[4]][-SAMPLES:]
    return {"mean_g": str(mean.quantize(_CENT, ROUND_HALF_UP)), "sigma_g": str(sigma.quantize(_CENT, ROUND_HALF_UP)),
            "n": n, "se_g": str(se.quantize(_CENT, ROUND_HALF_UP)), "samples": samples}


def pooled(snapshots: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The site's figures (``Learned.as_dict`` shape) from every table's snapshot."""
    snaps = list(snapshots)
    out: dict[str, Any] = {"parcels": sum(int(s.get("parcels", 0)) for s in snaps), "upto_seq": 0}
    for name in FIGURE_SETS:
        keys = sorted({k for s in snaps for k in s.get(name, {})})
        out[name] = {k: f for k in keys if (f := pool(s[name][k] for s in snaps if k in s.get(name, {}))) is not None}
    by_sig: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in snaps:
        for sig in s.get("signatures", []):
            by_sig.setdefault((sig["box"], json.dumps(sig["items"])), []).append(sig)
    out["signatures"] = [{"box": box, "items": json.loads(items), **f} for (box, items), sigs in sorted(by_sig.items())
                         if (f := pool(sigs)) is not None]
    return out


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# ---- the hub's tables --------------------------------------------------------------------------------
def post_figures(conn: Conn, now: datetime, station: str, learned: dict[str, Any], review: dict[str, Any]) -> int:
    """Keep ``station``'s snapshot (checked) and the review it computed; returns the site's weights version."""
    body = _text(learned)
    old = conn.one("SELECT body, review FROM hub_weight_figures WHERE station = ?", (station,))
    review_text = _text(review)
    if old is not None and old["body"] == body and old["review"] == review_text:
        return version(conn)
    conn.execute("INSERT INTO hub_weight_figures (station, body, review, at) VALUES (?, ?, ?, ?)"
                 " ON CONFLICT (station) DO UPDATE SET body = excluded.body, review = excluded.review, at = excluded.at",
                 (station, body, review_text, isoformat(now)))
    if old is not None and old["body"] == body:
        return version(conn)  # only the review changed: the figures the tables judge on did not
    bumped = store.next_counter(conn, "weights")
    store.feed(conn, now, "weights", station, {"version": bumped, "station": station})
    return bumped


def version(conn: Conn) -> int:
    return int(conn.value("SELECT n FROM hub_counters WHERE name = 'weights'") or 0)


def decisions(conn: Conn, since: int = 0) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT n, sku, action, station, body FROM hub_weight_decisions WHERE n > ? ORDER BY n", (since,))
    return [{"n": int(r["n"]), "sku": r["sku"], "action": r["action"], "station": r["station"],
             "decision": json.loads(r["body"])} for r in rows]


def site_figures(conn: Conn) -> dict[str, Any]:
    """What every table judges on: the pooled figures, the decisions in order, the version, the tables behind them."""
    rows = conn.execute("SELECT station, body, at FROM hub_weight_figures ORDER BY station")
    resets: dict[str, str] = {}
    for d in decisions(conn):
        if d["action"] == "reset":
            resets[d["sku"]] = d["decision"]["at"]
    snaps = [_without(json.loads(r["body"]), {sku for sku, at in resets.items() if r["at"] < at}) for r in rows]
    return {"version": version(conn), "learned": pooled(snaps), "decisions": decisions(conn),
            "tables": [{"station": r["station"], "at": r["at"], "parcels": s.get("parcels", 0)}
                       for r, s in zip(rows, snaps, strict=True)]}


def _without(snapshot: dict[str, Any], skus: set[str]) -> dict[str, Any]:
    """A table's snapshot less what it learned of ``skus`` before they were reset (it learns them again)."""
    if not skus:
        return snapshot
    out = {**snapshot, "signatures": [s for s in snapshot.get("signatures", [])
                                      if not any(item[0] in skus for item in s["items"])]}
    for name in ("skus", "overridden"):
        out[name] = {k: v for k, v in snapshot.get(name, {}).items() if k not in skus}
    return out


def review(conn: Conn) -> dict[str, Any]:
    """The suspect-weight review as the table that looked last saw it, less the SKUs decided since."""
    row = conn.one("SELECT station, review, at FROM hub_weight_figures ORDER BY at DESC, station LIMIT 1")
    last: dict[str, int] = {}
    for d in decisions(conn):
        last[d["sku"]] = d["n"]
    if row is None:
        return {"station": None, "at": None, "suspects": [], "decisions": _newest(conn)}
    seen = json.loads(row["review"] or "{}")
    known = int(seen.get("decisions_n", 0)) if isinstance(seen, dict) else 0
    suspects = [s for s in (seen.get("suspects") or [] if isinstance(seen, dict) else [])
                if isinstance(s, dict) and last.get(str(s.get("sku")), 0) <= known]
    return {"station": row["station"], "at": row["at"], "suspects": suspects, "decisions": _newest(conn)}


def _newest(conn: Conn) -> list[dict[str, Any]]:
    return [{**d["decision"], "n": d["n"], "station": d["station"]} for d in reversed(decisions(conn)[-50:])]


def decide(conn: Conn, now: datetime, code: str, where: str, decision: Mapping[str, Any], prev: int,
           evidence: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Take one supervisor's decision for the site (see the module docstring); returns it with its ``n``."""
    sku, action, by = decision.get("sku"), decision.get("action"), decision.get("by")
    if not isinstance(sku, str) or not sku or len(sku) > 128:
        raise HubRequestError("decision.sku must be a SKU code")
    if action not in ACTIONS:
        raise HubRequestError(f"decision.action must be one of {', '.join(ACTIONS)}")
    if not isinstance(by, str) or not by:
        raise HubRequestError("decision.by must be the supervisor's employee id")
    value = decision.get("value_g")
    value_g = _number(value, "decision.value_g") if action == "accept" else None
    if action == "reset" and value is not None:
        raise HubRequestError("a reset carries no value_g")
    before = decision.get("before_g")
    before_g = None if before is None else _number(before, "decision.before_g")
    employee = store.ref_get(conn, "employees", by)
    if employee is None or employee.get("role") != "supervisor":
        raise HubRequestError(f"{by} is not a supervisor of this site", 403)
    # the counter's row first: deciders queue here (PostgreSQL), so the second sees the first's decision below
    bumped = store.next_counter(conn, "weights")
    latest = conn.one("SELECT n, station, body FROM hub_weight_decisions WHERE sku = ? ORDER BY n DESC LIMIT 1"
                      + conn.dialect.for_update, (sku,))
    if latest is not None and int(latest["n"]) != prev:
        taken = json.loads(latest["body"])
        raise HubRequestError(f"{sku} was decided already ({taken.get('action')}) by {taken.get('by')} at "
                              f"{latest['station']}: reload the review", 409)
    reason = str(decision.get("reason") or "")[:200]
    kept = {"sku": sku, "action": action, "value_g": None if value_g is None else str(value_g),
            "before_g": None if before_g is None else str(before_g), "by": by, "at": isoformat(now), "reason": reason}
    n = int(conn.value("INSERT INTO hub_weight_decisions (sku, action, station, body, at) VALUES (?, ?, ?, ?, ?)"
                       " RETURNING n", (sku, action, where, _text(kept), isoformat(now))))
    store.audit(conn, now, by, f"weight_{action}", sku, {"unit_weight_g": kept["before_g"], **(evidence or {})},
                {"unit_weight_g": kept["value_g"] or "catalogue", "at": where, "reason": reason})
    if action == "accept":
        store.own_confirmation(conn, code, now, "weight_learned", sku, by, f"weight_learned:{sku}:{n}",
                               {"unit_weight_g": kept["value_g"], "catalogue_g": kept["before_g"], "at": isoformat(now),
                                **(evidence or {})}, object_type="sku")
    store.feed(conn, now, "weights", sku, {"version": bumped, "decision": n, "sku": sku, "action": action})
    return {**kept, "n": n, "station": where, "version": bumped}


def suspect(conn: Conn, sku: str) -> dict[str, Any] | None:
    """The review's line of ``sku`` (the dashboard decides on it), or None."""
    return next((s for s in review(conn)["suspects"] if s.get("sku") == sku), None)


def last_decision(conn: Conn, sku: str) -> int:
    return int(conn.value("SELECT COALESCE(MAX(n), 0) FROM hub_weight_decisions WHERE sku = ?", (sku,)) or 0)
