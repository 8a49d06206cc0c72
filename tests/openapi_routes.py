"""A Flask app's routes against its OpenAPI document, both ways: every route it serves is documented and every
documented operation is served. Pages (HTML for a browser, and their form posts) are named by the caller and left
out; a path parameter is matched by the app's own URL map (``{id}`` and ``<escalation_id>`` alike)."""
from __future__ import annotations

import re
from typing import Any, Iterable

from flask import Flask
from werkzeug.exceptions import HTTPException

METHODS = ("get", "put", "post", "delete", "patch")


def compare(app: Flask, doc: dict[str, Any], pages: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """``(undocumented, unserved)``: routes served but not in ``doc``; operations in ``doc`` no route answers."""
    adapter = app.url_map.bind("localhost")
    answered: set[tuple[str, str]] = set()
    unserved = []
    for path, operations in doc["paths"].items():
        for method in (m.upper() for m in operations if m in METHODS):
            try:
                rule, _ = adapter.match(re.sub(r"\{[^}/]+\}", "1", path), method=method, return_rule=True)
            except HTTPException:
                unserved.append(f"{method} {path}")
                continue
            answered.add((rule.rule, method))
    leave_out = set(pages)
    served = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.rule not in leave_out
              for method in sorted(rule.methods or ()) if method not in ("HEAD", "OPTIONS")}
    return sorted(f"{method} {rule}" for rule, method in served - answered), sorted(unserved)
