"""OpenAPI 3.1 description of the station's action confirmation API (served at /openapi.json).

Invariant: every route of a production station's app but its pages (/, /pda, /supervisor, static files) is here,
and everything here is served (tests/station/test_web_api.py); the demo's routes are not (only the demo has them).
"""
from __future__ import annotations

_VERDICT = {
    "type": "object",
    "required": ["status", "code", "message", "next", "sound", "colour"],
    "properties": {
        "status": {"enum": ["ok", "prompt", "blocked", "error", "intercepted", "review"],
                   "description": "intercepted: the WMS held or cancelled the order (订单拦截); the step did not happen. "
                                  "review: a site rule wants a supervisor before the order's label (订单审核)"},
        "code": {"type": "string", "description": "stable machine code, e.g. item_not_in_order, fifo_older_lot"},
        "message": {"type": "string", "description": "English text for the person: the problem and what to do"},
        "message_zh": {"type": "string", "description": "the same in Simplified Chinese"},
        "next": {"type": "string", "description": "what to do next, e.g. scan_item, weigh, scan_supervisor_badge"},
        "sound": {"enum": ["ok", "prompt", "error", "intercept", "review"]},
        "colour": {"enum": ["green", "amber", "red", "crimson"]},
        "confirmation_ids": {"type": "array", "items": {"type": "string"},
                             "description": "ids of the confirmations committed locally before this answer"},
        "replayed": {"type": "boolean", "description": "true when this is the stored answer to a repeated key"},
        "data": {"type": "object"},
        "seq": {"type": "integer"},
    },
}

_ACTION = {
    "type": "object",
    "required": ["action", "key"],
    "properties": {
        "action": {"enum": ["badge", "scan", "pick", "verify", "weigh", "reweigh", "pack", "load", "override",
                            "fifo_take_older", "put_back", "cancel", "sign_out", "close_carton", "reprint",
                            "print_label", "review", "switch_carrier"],
                   "description": "badge: object_id is a badge UID; scan: object_id is the scanned text (order, tote, "
                                  "bin, item GTIN/GS1, packaging) and the station decides what it is; pick/load: "
                                  "PDA picking; weigh: payload.grams (an ASCII decimal string, 0..scale.capacity_g) "
                                  "and payload.stable (a JSON boolean); override: payload.reason, then the supervisor "
                                  "taps the station's reader, or payload.supervisor_badge with payload.supervisor_pin; "
                                  "badge: a badge named here proves presence only with payload.pin; review: "
                                  "payload.decision (approve | refuse) and payload.reason on the order under review, "
                                  "then the supervisor taps, or payload.supervisor_badge with payload.supervisor_pin; "
                                  "cancel with payload.scope = order needs a supervisor the same way; switch_carrier: "
                                  "take the backup carrier offered for a suspended one"},
        "object_type": {"enum": ["order", "tote", "bin", "parcel", "item", "employee", "packaging"]},
        "object_id": {"type": "string", "maxLength": 512},
        "operator": {"type": "string", "description": "employee id or badge UID; the signed-in operator if omitted"},
        "device": {"type": "string"},
        "location": {"type": "string", "description": "station code or bin tag"},
        "payload": {"type": "object", "maxProperties": 16, "properties": {
            "grams": {"type": "string", "pattern": "^[0-9]{1,7}(\\.[0-9]{1,3})?$"},
            "stable": {"type": "boolean"},
            "reason": {"type": "string", "maxLength": 500},
            "decision": {"enum": ["approve", "refuse"]},
            "scope": {"enum": ["pack_session", "order"]},
            "supervisor_badge": {"type": "string", "maxLength": 64},
            "supervisor_pin": {"type": "string", "maxLength": 64},
            "pin": {"type": "string", "maxLength": 64}}},
        "image_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "key": {"type": "string", "minLength": 8, "maxLength": 128,
                "description": "client-chosen idempotency key: a retry with the same key returns the first answer"},
    },
}

_RETURN_STEP = {
    "type": "object", "required": ["action"],
    "properties": {
        "action": {"enum": ["receive", "item", "approve", "put_aside", "second", "grade", "weigh", "close"]},
        "code": {"type": "string", "maxLength": 128},
        "key": {"type": "string", "maxLength": 128, "description": "idempotency key: a retry answers the first verdict"},
        "operator": {"type": "string", "description": "API-token clients only: the employee present"},
        "terminal": {"enum": ["kiosk", "pda"]},
        "device": {"type": "string", "maxLength": 64},
        "payload": {"type": "object", "properties": {
            "unit": {"type": "integer", "minimum": 1}, "grade": {"enum": ["A", "B", "C"]},
            "reason": {"type": "string", "maxLength": 500}, "grams": {"type": "string"},
            "serial": {"type": "string"}, "lot": {"type": "string"},
            "supervisor_badge": {"type": "string"}, "supervisor_pin": {"type": "string"},
            "badge": {"type": "string"}, "pin": {"type": "string"},
            "image_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
    },
}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


# every list is a page: how many, after which cursor, and filters; a bad value is a 400 naming it
_PAGE_PARAMS = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "items per page"),
    _query("cursor", {"type": "string"}, "opaque: the next_cursor of the previous page"),
    _query("station", {"type": "string"}, "only this station (milestones), device-id prefix (audit, rejected input)"),
    _query("stage", {"type": "string"}, "comma-separated statuses, e.g. picked,blocked (milestones); a role (employees)"),
    _query("age_min", {"type": "integer", "minimum": 0}, "milestones unchanged for at least this many minutes; "
                                                         "expiring lots within this many minutes (days × 1440)"),
]

_NEXT_CURSOR = {"type": ["string", "null"], "description": "pass as cursor for the next page; null on the last"}

_PAGE = {
    "type": "object",
    "required": ["items", "next_cursor", "limit"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next_cursor": _NEXT_CURSOR,
        "limit": {"type": "integer"},
    },
}

_BAD_PAGE = {"description": "a bad paging parameter (bad_page_number, bad_cursor), named in the verdict"}

_LISTS = ("milestones", "expiring-lots", "audit", "rejected-input", "employees")


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _list_path(kind: str) -> dict:
    return {"get": {"summary": f"One page of the supervisor's {kind.replace('-', ' ')} list",
                    "parameters": _PAGE_PARAMS,
                    "responses": {"200": {"description": "a page",
                                          "content": {"application/json": {"schema": _PAGE}}},
                                  "400": _BAD_PAGE, "401": {"description": "not signed in"},
                                  "403": {"description": "not a supervisor"}}}}


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "packgate station: action confirmation API", "version": "1",
             "description": "One API for the kiosk, PDAs and other vendors' handhelds. Every answer is a verdict. "
                            "Only /healthz (and /metrics with web.metrics_public) answer without a session or an "
                            "'Authorization: Bearer <token>' from web.api_tokens. State-changing requests from a "
                            "page need its X-CSRF-Token header. POST /api/v1/actions requires a key; the sign-in, "
                            "sign-out, acknowledgement and demo endpoints do not take one (they are safe to repeat). "
                            "Bodies are at most 64 KiB (413 otherwise); every error is a JSON verdict."},
    "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    "security": [{"token": []}],
    "paths": {
        "/api/v1/actions": {"post": {
            "summary": "Report one physical action and get the verdict",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ACTION}}},
            "responses": {"200": {"description": "the verdict (also for refusals)",
                                  "content": {"application/json": {"schema": _VERDICT}}},
                          "400": {"description": "malformed request, or no key"},
                          "401": {"description": "no session or API token"},
                          "403": {"description": "missing CSRF token or wrong API token"},
                          "413": {"description": "a field or the body is too large (the verdict names it)"}}}},
        "/api/v1/state": {"get": {"summary": "Current station state (operator, order, lines, scale, sync)",
                                  "responses": {"200": {"description": "state"}}}},
        "/api/v1/events": {"get": {"summary": "Server-sent events: state, scale, verdict",
                                   "responses": {"200": {"description": "text/event-stream"}}}},
        "/api/v1/texts/{lang}": {"get": {"summary": "Every word of the pages in one language (en, zh)",
                                         "parameters": [{"name": "lang", "in": "path", "required": True,
                                                         "schema": {"type": "string"}}],
                                         "responses": {"200": {"description": "texts"},
                                                       "404": {"description": "unknown language"}}}},
        "/api/v1/csrf": {"get": {"summary": "The CSRF token of this browser session (send it as X-CSRF-Token)",
                                 "responses": {"200": {"description": "{\"csrf_token\": ...}"}}}},
        "/api/v1/pda/login": {"post": {"summary": "PDA and supervisor sign-in with badge code and PIN (5 wrong PINs "
                                                  "lock the employee for 5 minutes, whatever form the badge takes); "
                                                  "answers a new csrf_token (a new server-side session)",
                                       "requestBody": {"required": True, "content": {"application/json": {"schema": {
                                           "type": "object", "required": ["badge", "pin"],
                                           "properties": {"badge": {"type": "string", "maxLength": 64},
                                                          "pin": {"type": "string", "maxLength": 64},
                                                          "device": {"type": "string", "description":
                                                                     "this PDA's own name (recorded as "
                                                                     "<station>-pda-<name>)"}}}}}},
                                       "responses": {"200": {"description": "verdict with employee"}}}},
        "/api/v1/pda/logout": {"post": {"summary": "PDA sign-out", "responses": {"200": {"description": "verdict"}}}},
        "/api/v1/pda/me": {"get": {"summary": "The employee signed in on this browser (personal data masked by role)",
                                   "responses": {"200": {"description": "{\"employee\": ... | null}"}}}},
        "/api/v1/pda/orders": {"get": {
            "summary": "Orders to pick, priority first, one page at a time",
            "parameters": _PAGE_PARAMS[:2],
            "responses": {"200": {"description": "a page of orders and the orders released by an escalation",
                                  "content": {"application/json": {"schema": {
                                      "type": "object", "required": ["orders", "next_cursor", "limit"],
                                      "properties": {"orders": {"type": "array", "items": {"type": "object"}},
                                                     "next_cursor": _NEXT_CURSOR,
                                                     "limit": {"type": "integer"},
                                                     "priority_orders": {"type": "array",
                                                                         "items": {"type": "object"}}}}}}},
                          "400": _BAD_PAGE, "401": {"description": "not signed in"}}}},
        "/api/v1/pda/picks/{order_id}": {"get": {"summary": "Pick list of an order in bin order",
                                                 "parameters": [{"name": "order_id", "in": "path", "required": True,
                                                                 "schema": {"type": "string"}}],
                                                 "responses": {"200": {"description": "pick list"}}}},
        "/api/v1/supervisor/overview": {"get": {
            "summary": "Stations, blocked parcels, escalations, orders the WMS held or cancelled (intercepted), "
                       "conflicts to resolve, and the first page of each list (milestones, expiring_lots, audit, "
                       "rejected_input, employees) with next_cursor per list",
            "parameters": _PAGE_PARAMS[:1],
            "responses": {"200": {"description": "overview"}, "400": _BAD_PAGE}}},
        "/api/v1/supervisor/counts": {"get": {
            "summary": "How many of each list: orders per status, orders_to_pick, expiring_lots, audit, "
                       "rejected_input, employees, open_escalations",
            "responses": {"200": {"description": "counts", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"orders": {"type": "object",
                                                            "additionalProperties": {"type": "integer"}},
                                                 **{k: {"type": "integer"} for k in (
                                                     "orders_to_pick", "expiring_lots", "audit", "rejected_input",
                                                     "employees", "open_escalations")}}}}}}}}},
        **{f"/api/v1/supervisor/{kind}": _list_path(kind) for kind in _LISTS},
        "/api/v1/supervisor/weights": {"get": {
            "summary": "The suspect-weight review: SKUs whose learned unit weight leaves the catalogue's beyond the drift "
                       "bound, with the reference, the figures of passing and of overridden parcels apart (mean, σ, n, "
                       "sample parcels) and the proposed value; the latest decisions",
            "responses": {"200": {"description": "the review"}, "401": {"description": "not signed in"},
                          "403": {"description": "not a supervisor"}}}},
        "/api/v1/supervisor/weights/{sku}": {"post": {
            "summary": "A supervisor accepts the learned unit weight of a listed SKU (audited; weight_learned "
                       "confirmation upstream) or resets its learning; present as for an override: signed in with "
                       "badge and PIN, or (API token) supervisor_badge and supervisor_pin in the body",
            "parameters": [_path("sku")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["action"],
                "properties": {"action": {"type": "string", "enum": ["accept", "reset"]},
                               "reason": {"type": "string", "maxLength": 200},
                               "supervisor_badge": {"type": "string", "maxLength": 64},
                               "supervisor_pin": {"type": "string", "maxLength": 64}}}}}},
            "responses": {"200": {"description": "verdict"}, "400": {"description": "a field is wrong"},
                          "401": {"description": "not signed in"},
                          "403": {"description": "not a supervisor, or the supervisor not present"}}}},
        "/api/v1/supervisor/conflicts/{confirmation_id}/resolve": {"post": {
            "summary": "A supervisor resolves a conflict: a pack or dock hand-over upstream refused for good because the "
                       "WMS had cancelled the order (order_cancelled); the note says what was done with the parcel "
                       "(audited; an API-token client names the supervisor as operator)",
            "parameters": [_path("confirmation_id")],
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["note"],
                "properties": {"note": {"type": "string", "maxLength": 500}, "operator": {"type": "string"}}}}}},
            "responses": {"200": {"description": "conflict_resolved, or a refusal (unknown_conflict, "
                                                 "conflict_note_missing)"},
                          "401": {"description": "not signed in"}, "403": {"description": "not a supervisor"}}}},
        "/api/v1/escalations/{id}/ack": {"post": {"summary": "A supervisor acknowledges an escalation: the station's "
                                                             "own (a number) or, in a site, the site's "
                                                             "(<order>~<level>, acknowledged through the hub)",
                                                  "parameters": [{"name": "id", "in": "path", "required": True,
                                                                  "schema": {"type": "string",
                                                                             "pattern": "^([0-9]{1,18}|[^~/]{1,80}~[12])$"}}],
                                                  "responses": {"200": {"description": "verdict"}}}},
        "/healthz": {"get": {"summary": "Health from counters: devices, outbox depth, oldest unsent, last success, dead letters, "
                                     "open escalations, verdicts shown by status, and load (the station's own CPU "
                                     "load, load.shed_pct, whether the video and reports step aside now, what was put off)",
                             "responses": {"200": {"description": "healthy"}, "503": {"description": "degraded"}}}},
        "/api/v1/labels/{waybill}/preview.png": {"get": {
            "summary": "The label printed at this station for a waybill, drawn locally from the job it sent",
            "parameters": [{"name": "waybill", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}],
            "responses": {"200": {"description": "image/png"}, "404": {"description": "no label printed here"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
        "/openapi.json": {"get": {"summary": "This description of the API (OpenAPI 3.1)",
                                  "responses": {"200": {"description": "the document"}}}},
        "/api/v1/supervisor/evidence/{order_id}": {"get": {
            "summary": "One order's evidence record: scans with lot and serial, badges by role, weighings with the raw "
                       "scale frames they were judged on, labels, photo and clip hashes, audit rows, timeline",
            "parameters": [_path("order_id")],
            "responses": {"200": {"description": "the record"}, "401": {"description": "not signed in"},
                          "403": {"description": "not a supervisor"}, "404": {"description": "order never seen here"}}}},
        "/api/v1/supervisor/evidence/{order_id}/export": {"post": {
            "summary": "The evidence record as a download (attachment), after a second verification: a supervisor's "
                       "supervisor_badge and supervisor_pin, checked by the station even for a signed-in supervisor. "
                       "Granted and refused exports are audited (the day's access report)",
            "parameters": [_path("order_id")],
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "properties": {"supervisor_badge": {"type": "string", "maxLength": 64},
                                                 "supervisor_pin": {"type": "string", "maxLength": 64}}}}}},
            "responses": {"200": {"description": "the record, exported_by"}, "401": {"description": "not signed in"},
                          "403": {"description": "export_needs_supervisor, export_not_supervisor, bad_login, "
                                                 "login_locked"},
                          "404": {"description": "order never seen here"}}}},
        "/api/v1/supervisor/orders/{order_id}/recipient": {"post": {
            "summary": "The order's recipient unmasked (ship_to, address), audited as a read of personal data with its "
                       "purpose: a signed-in supervisor, or (API token) supervisor_badge and supervisor_pin",
            "parameters": [_path("order_id")],
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "properties": {"purpose": {"type": "string", "maxLength": 200},
                                                 "supervisor_badge": {"type": "string", "maxLength": 64},
                                                 "supervisor_pin": {"type": "string", "maxLength": 64}}}}}},
            "responses": {"200": {"description": "order_id, ship_to, address, purged_at"},
                          "400": {"description": "purpose is not a string"}, "401": {"description": "not signed in"},
                          "403": {"description": "not a supervisor, or the supervisor not present"},
                          "404": {"description": "no such order here"}}}},
        "/api/v1/supervisor/access-report": {"get": {
            "summary": "The day's reads of unmasked personal data, evidence exports (and refused ones) and purges, "
                       "oldest first; format=csv for a CSV file. While the station is overloaded the report waits "
                       "up to 3 s for the load to fall (the scan path first)",
            "parameters": [{"name": "day", "in": "query", "required": False,
                            "schema": {"type": "string", "pattern": "^[0-9]{4}-[01][0-9]-[0-3][0-9]$"}},
                           {"name": "format", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["json", "csv"]}}],
            "responses": {"200": {"description": "day and rows (or the CSV)"}, "400": {"description": "bad day"},
                          "401": {"description": "not signed in"}, "403": {"description": "not a supervisor"}}}},
        "/api/v1/supervisor/evidence/{order_id}/clips/{sha256}": {"get": {
            "summary": "A packing video of the order (supervisors only; Range requests for seeking)",
            "parameters": [_path("order_id"), _path("sha256")],
            "responses": {"200": {"description": "video/webm"}, "206": {"description": "the range asked for"},
                          "401": {"description": "not signed in"}, "404": {"description": "no such clip"}}}},
        "/api/v1/dock/batches": {"post": {
            "summary": "Open a hand-over batch to a carrier at the dock",
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["carrier", "vehicle"],
                "properties": {"carrier": {"type": "string"}, "vehicle": {"type": "string"}, "route": {"type": "string"}}}}}},
            "responses": {"200": {"description": "dock_batch_opened with the batch, or a refusal"}}}},
        "/api/v1/dock/batches/{batch_id}": {"get": {
            "summary": "A hand-over batch and its parcels", "parameters": [_path("batch_id")],
            "responses": {"200": {"description": "the batch"}, "404": {"description": "no such batch"}}}},
        "/api/v1/dock/batches/{batch_id}/scan": {"post": {
            "summary": "Scan a parcel's label (its waybill or order id; in a site, a parcel packed at any table) into "
                       "the batch (refused with the reason: intercepted by the WMS, not packed, already handed over "
                       "in a batch it names, another carrier, unknown label, hub unreachable, batch closed)",
            "parameters": [_path("batch_id")],
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["code"], "properties": {
                    "code": {"type": "string"},
                    "device": {"type": "string", "description": "the PDA that scanned it (its own device name); a "
                                                                "refusal it records carries it"}}}}}},
            "responses": {"200": {"description": "dock_parcel_added or a refusal (intercepted: the WMS held or "
                                                 "cancelled the order)"}}}},
        "/api/v1/dock/batches/{batch_id}/close": {"post": {
            "summary": "Close the batch: one ship_load confirmation per parcel and a manifest, in one transaction "
                       "(device: the PDA that closes it)",
            "parameters": [_path("batch_id")],
            "responses": {"200": {"description": "dock_batch_handed_over or a refusal"}}}},
        "/api/v1/returns": {
            "get": {"summary": "The return open at this terminal (the kiosk's, or the signed-in PDA's) with the RMA and "
                               "the original order's outbound evidence side by side (items, lots, serials, weight, "
                               "photo, video), what is still expected, the grades and reason codes, recent returns",
                    "parameters": [_query("terminal", {"enum": ["kiosk", "pda"]}, "pda: the API client's PDA")],
                    "responses": {"200": {"description": "the returns screen's state"}}},
            "post": {"summary": "One step of a return (逆向物流), committed with its confirmation before the answer: "
                                "receive (code: the return waybill or RMA; return_received), item (code: the unit's "
                                "barcode, payload.serial/lot; return_item, refused when not in the RMA, a serial or lot "
                                "not shipped waits for a supervisor), approve (payload.supervisor_badge, "
                                "supervisor_pin, reason), put_aside, second (a special item: payload.badge, pin), "
                                "grade (payload.unit from 1, grade A/B/C, reason code for B and C; return_graded with "
                                "the camera's photo), weigh (payload.grams, or the scale's stable reading), close "
                                "(return_closed: refund or review)",
                     "requestBody": {"content": {"application/json": {"schema": _RETURN_STEP}}},
                     "responses": {"200": {"description": "the step's verdict (a refusal records nothing)",
                                           "content": {"application/json": {"schema": _VERDICT}}},
                                   "401": {"description": "nobody signed in"}}}},
        "/api/v1/returns/mode": {"post": {
            "summary": "Switch the kiosk between Pack and Returns (the station's own scanner follows)",
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["mode"], "properties": {"mode": {"enum": ["pack", "returns"]}}}}}},
            "responses": {"200": {"description": "the mode now"}, "400": {"description": "unknown mode"},
                          "403": {"description": "not the table's own screen (a PDA)"}}}},
        "/api/v1/returns/{rma_id}/evidence": {"get": {
            "summary": "The return's evidence record: the RMA, every step (scans, grades with photos, weighing) with its "
                       "confirmation and sync state, the audit rows, the original order's outbound evidence, the "
                       "SHA-256 seal",
            "parameters": [_path("rma_id")],
            "responses": {"200": {"description": "the record"}, "404": {"description": "no return of that RMA here"}}}},
    },
}
