"""The site's learned weights over HTTP (``sync/hub/weights.py``): the tables send their figures and take the site's,
supervisors decide suspect weights for the site (at a table, or on the dashboard's weights section).

Invariants: a table sends only its own figures; a decision names a supervisor of the site (403 otherwise) and the
last decision of that SKU the decider saw (409 when another came first); the dashboard's section (``/weights``)
is its own page fragment and form, in English and Chinese, for a signed-in supervisor only.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request

from packgate.sync.errors import HubRequestError
from packgate.sync.hub import weights
from packgate.sync.hub.signin import signin_page
from packgate.sync.hub.web import body, checked_session, current_supervisor, hub, int_arg, lang, page, station, station_or_supervisor

bp = Blueprint("weights", __name__)
WORDS = {
    "en": {"title": "Suspect weights", "reference": "Reference", "passing": "Passing parcels say",
           "overridden": "Overridden parcels say", "proposed": "Proposed", "samples": "Sample parcels",
           "accept": "Accept", "reset": "Reset", "accepted": "accepted", "reason": "reason",
           "decisions": "Weight decisions", "catalogue": "catalogue",
           "explain": "SKUs whose weight, as the site's parcels tell it, is off their catalogue weight. Accept: every "
                      "table judges on the learned value and the WMS is told once. Reset: keep the catalogue weight and "
                      "learn the SKU again."},
    "zh": {"title": "可疑重量", "reference": "参考重量", "passing": "通过的包裹显示", "overridden": "主管放行的包裹显示",
           "proposed": "建议值", "samples": "样本包裹", "accept": "接受", "reset": "重置", "accepted": "已接受",
           "reason": "原因", "decisions": "重量决定", "catalogue": "目录重量",
           "explain": "按本现场包裹实测，重量偏离目录重量的商品。接受：所有工作台按学习值判定，并通知WMS一次。"
                      "重置：保留目录重量，重新学习该商品。"},
}


@bp.get("/v1/weights")
def site_figures() -> Response:
    station_or_supervisor()
    known = int_arg("known", -1, -1, 10**17) if request.args.get("known") else -1
    with hub().db.read() as conn:
        if known >= 0 and weights.version(conn) == known:  # what the table has is current: nothing pooled, nothing sent
            return jsonify({"version": known, "unchanged": True})
        return jsonify(weights.site_figures(conn))


@bp.put("/v1/weights/figures/<station_id>")
def put_figures(station_id: str) -> Response:
    who = station()
    if station_id != who:
        raise HubRequestError(f"this token is {who}'s, not {station_id[:80]}'s", 403)
    data = body()
    learned = weights.checked_learned(data.get("learned"))
    review = data.get("review", {})
    if not isinstance(review, dict) or not isinstance(review.get("suspects", []), list) \
            or not isinstance(review.get("decisions_n", 0), int):
        raise HubRequestError("review must be an object with suspects (a list) and decisions_n (a whole number)")
    kept = {"suspects": [s for s in review.get("suspects", []) if isinstance(s, dict)][:500],
            "decisions_n": review.get("decisions_n", 0)}
    now = hub().clock.now()
    version = hub().db.run(lambda conn: weights.post_figures(conn, now, who, learned, kept))
    hub().notify_feed()
    return jsonify({"version": version})


def _decide(where: str, decision: Any, prev: Any, evidence: Any) -> dict[str, Any]:
    if not isinstance(decision, dict):
        raise HubRequestError("decision must be an object: sku, action, value_g, before_g, by, reason")
    if not isinstance(prev, int) or isinstance(prev, bool) or prev < 0:
        raise HubRequestError("prev must be the SKU's last decision number this table knew (0: none)")
    if evidence is not None and not isinstance(evidence, dict):
        raise HubRequestError("evidence must be an object (passing, overridden)")
    now = hub().clock.now()
    code = hub().config["site.code"]
    taken = hub().db.run(lambda conn: weights.decide(conn, now, code, where, decision, prev, evidence))
    hub().relay.wake()
    hub().notify_feed()
    return taken


@bp.post("/v1/weights/decisions")
def post_decision() -> Response:
    who = station()
    data = body()
    if data.get("station") != who:
        raise HubRequestError(f"station must be this token's station ({who})", 403)
    return jsonify(_decide(who, data.get("decision"), data.get("prev", 0), data.get("evidence")))


@bp.get("/v1/weights/review")
def site_review() -> Response:
    station_or_supervisor()
    with hub().db.read() as conn:
        return jsonify(weights.review(conn))


# ---- the dashboard's section ---------------------------------------------------------------------------
@bp.get("/weights")
def weights_section() -> Response:
    session = current_supervisor()
    if session is None:
        return signin_page()
    with hub().db.read() as conn:
        found = weights.review(conn)
    return page("weights.html", csrf=session["csrf"], who=session["employee_id"], review=found, w=WORDS[lang()])


@bp.post("/weights/decide")
def decide_on_dashboard() -> Any:
    session = checked_session()
    sku, action = request.form.get("sku", "")[:128], request.form.get("action", "")
    with hub().db.read() as conn:
        line = weights.suspect(conn, sku)
        prev = weights.last_decision(conn, sku)
    if line is None:
        raise HubRequestError(f"{sku} is not on the suspect-weight review (decided already, or not suspect)", 409)
    evidence = {"passing": line.get("passing"), "overridden": line.get("overridden")}
    _decide("dashboard", {"sku": sku, "action": action, "by": session["employee_id"],
                          "value_g": line.get("proposed_g") if action == "accept" else None,
                          "before_g": line.get("reference_g"), "reason": request.form.get("reason", "")[:200]},
            prev, evidence)
    return redirect("/weights", 303)
