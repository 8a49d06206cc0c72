"""The contract the reference upstream implements, as data: ``openapi.json`` beside this module (served at
``/openapi.json``; the hub's document extends it). Every route of the app is in it (tests/sync/test_sync_upstream.py)."""
from __future__ import annotations

import json
from importlib import resources


def openapi_document() -> dict:
    return json.loads(resources.files("packgate.sync.upstream").joinpath("openapi.json").read_text(encoding="utf-8"))
