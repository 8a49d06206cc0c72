"""``packgate demo --selftest``: a scripted walkthrough on the emulators, one line per step.

Every step acts the way a person would (a badge tap through the NFC emulator, a scan through the
scanner pty, a parcel on the emulated scale, a PDA request over HTTP) and checks the verdict the
station shows. Time for the escalation step is moved with an offset clock, not slept. Then the same
for a site (``site_selftest``): the WMS, the hub and two stations.
Exit code 0 only if every expectation held.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable

import requests

from packgate.device.clock import Clock
from packgate.station import audit_chain
from packgate.station.demo.floor_selftest import site_walk
from packgate.station.demo.rig import DemoRig, build_rig, gs1_item
from packgate.sync.client import UpstreamClient
from packgate.sync.upstream import demo_data

BADGES = demo_data.DEMO_BADGES


class OffsetClock(Clock):
    """The real clock plus an offset the selftest can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return super().now() + self.offset

    def monotonic(self) -> float:
        with self._lock:
            return super().monotonic() + self.offset.total_seconds()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += timedelta(seconds=seconds)


class WebhookReceiver:
    """A local HTTP endpoint standing in for the supervisors' chat bot (Apprise json://)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    outer.received.append(json.loads(body or b"{}"))
                except ValueError:
                    outer.received.append({"raw": body.decode("latin-1")})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Walk:
    rig: DemoRig
    clock: OffsetClock
    hooks: WebhookReceiver
    out: Callable[[str], None] = print
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.station = self.rig.agent.station
        self.world = self.rig.world
        self.verdicts: list[dict] = []
        self._queue = self.station.bus.subscribe()
        self.http = requests.Session()
        self.base = self.rig.agent.url

    # ---- plumbing ----------------------------------------------------------------------------
    def _drain(self) -> None:
        while not self._queue.empty():
            kind, data = self._queue.get_nowait()
            if kind == "state" and data.get("verdict"):
                self.verdicts.append(data["verdict"])

    def record(self, title: str, ok: bool, detail: str) -> bool:
        self.results.append((title, ok, detail))
        self.out(f"{'PASS' if ok else 'FAIL'}  {title:<58} {detail}")
        return ok

    def expect(self, title: str, act: Callable[[], Any], codes: str | Iterable[str], timeout: float = 6.0) -> dict | None:
        """Do ``act`` and wait for a verdict whose code is one of ``codes``."""
        wanted = {codes} if isinstance(codes, str) else set(codes)
        self._drain()
        start = len(self.verdicts)
        act()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                kind, data = self._queue.get(timeout=0.05)
            except Exception:  # noqa: BLE001 - queue.Empty
                continue
            if kind == "state" and data.get("verdict"):
                self.verdicts.append(data["verdict"])
            for v in self.verdicts[start:]:
                if v["code"] in wanted:
                    self.record(title, True, f"{v['status']}: {v['message'][:90]}")
                    return v
        seen = ", ".join(v["code"] for v in self.verdicts[start:]) or "no verdict"
        self.record(title, False, f"wanted {'/'.join(sorted(wanted))}, saw {seen}")
        return None

    def tap(self, who: str) -> Callable[[], Any]:
        return lambda: self.rig.devices.tap(BADGES[who])

    def scan(self, code: str) -> Callable[[], Any]:
        symbology = "]C1" if "\x1d" in code or (code.startswith("01") and len(code) > 16) else None
        return lambda: self.rig.scanner.scan(code, symbology=symbology)

    def weigh(self, grams: Decimal | str | int) -> Callable[[], Any]:
        return lambda: self.rig.scale.set_weight(Decimal(str(grams)), settle_s=0.3)

    def settle(self, grams: Decimal | str, timeout: float = 5.0) -> None:
        """Change the load and wait until the station has seen it steady (no verdict expected)."""
        self.rig.scale.set_weight(Decimal(str(grams)), settle_s=0.2)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.station.scale
            if s.get("stable") and s.get("grams") is not None and abs(Decimal(s["grams"]) - Decimal(str(grams))) < 1:
                return
            time.sleep(0.05)

    def api(self, path: str, body: dict) -> dict:
        if "csrf" not in self.__dict__:
            self.csrf = self.http.get(f"{self.base}/api/v1/csrf", timeout=5).json()["csrf_token"]
        if path == "/api/v1/actions" and "key" not in body:  # as the pages do: a fresh key with every action
            body = {**body, "key": uuid.uuid4().hex}
        answer = self.http.post(f"{self.base}{path}", json=body, headers={"X-CSRF-Token": self.csrf}, timeout=10).json()
        self.csrf = answer.get("csrf_token") or self.csrf  # a new session and token at sign-in and sign-out
        return answer

    def item(self, sku: str, lot_index: int | None = None, serial: str | None = None) -> str:
        return self.world.item_code(sku, self.world.good_lot_index(sku) if lot_index is None else lot_index, serial)

    def pack_order(self, order_id: str, skip: Iterable[str] = ()) -> None:
        for line in self.world.orders[order_id]["lines"]:
            if line["sku"] in skip:
                continue
            for _ in range(line["qty"]):
                self.expect(f"scan {line['sku']} into {order_id}", self.scan(self.item(line["sku"])), "item_accepted")

    # ---- the walkthrough -------------------------------------------------------------------------
    def run(self) -> bool:
        w = self.world
        # 1. the basic flow
        self.expect("packer taps badge -> signed in", self.tap("packer"), "signed_in")
        self.expect("scan order SO-10009 -> lines shown", self.scan("SO-10009"), "order_opened")
        self.expect("wrong item (SKU-012) refused", self.scan(self.item("SKU-012")), "item_not_in_order")
        self.pack_order("SO-10009")
        self.expect("one more SKU-007 than ordered refused", self.scan(self.item("SKU-007")), "over_quantity")
        expected = w.expected_g("SO-10009")
        first = self.weigh_label(f"parcel {expected + 2} g (expected {expected}) -> weight OK, label printed",
                                 expected + 2)
        self.settle("0")
        self.record("parcel lifted off the scale: not packed before its label is scanned",
                    str(self.station.pack.state) == "label_printed", str(self.station.pack.state))
        self.scan_label("packer scans the label on the parcel -> packed", first)

        # 2. overweight blocked, supervisor override with a reason
        self.expect("scan order SO-10011", self.scan("SO-10011"), "order_opened")
        self.pack_order("SO-10011")
        expected = w.expected_g("SO-10011")
        before = len(self.rig.printer.received)
        self.expect(f"overweight parcel {expected + 150} g -> blocked", self.weigh(expected + 150),
                    "weight_out_of_tolerance")
        time.sleep(0.3)
        held = len(self.rig.printer.received) - before
        self.record("blocked parcel: no label, the printer received nothing", held == 0, f"{held} new job bytes")
        self.expect("override without a supervisor refused (packer badge)",
                    lambda: (self.api("/api/v1/actions", {"action": "override", "payload": {"reason": "extra flyer"}}),
                             self.rig.devices.tap(BADGES["packer2"])), "override_not_supervisor")
        approved = self.expect("supervisor taps badge -> weight approved with reason, label printed",
                               self.tap("supervisor"), "label_printed")
        second = approved["data"]["waybill"] if approved else None
        printed = len(self.rig.printer.printed)
        again = self.expect("reprint -> the same waybill again (audited)",
                            lambda: self.api("/api/v1/actions", {"action": "reprint",
                                                                 "payload": {"reason": "label torn"}}),
                            "label_reprinted")
        self.rig.printer.wait_printed(printed + 1, 3.0)
        same = [p.barcodes for p in self.rig.printer.printed[-2:]]
        self.record("the reprint is the same label, no second waybill",
                    bool(again) and same == [[second], [second]], f"{same}")
        if first:
            self.expect("another order's label (SO-10009) scanned -> refused naming SO-10009", self.scan(first),
                        "label_other_order")
        self.scan_label("the right label scanned -> packed", second)
        self.settle("0")

        # 3. FIFO prompt, lot swap, supervisor lot override; tolerance edges
        self.expect("scan order SO-10001 (FIFO tea)", self.scan("SO-10001"), "order_opened")
        self.expect("newest tea lot -> FIFO prompt with the older lot and bin", self.scan(self.item("SKU-001", -1)),
                    "fifo_older_lot")
        self.expect("packer takes the older lot instead", lambda: self.api("/api/v1/actions", {"action": "fifo_take_older"}),
                    "lot_swap")
        self.expect("oldest tea lot accepted", self.scan(self.item("SKU-001", 0)), "item_accepted")
        self.expect("newest lot again -> FIFO prompt", self.scan(self.item("SKU-001", -1)), "fifo_older_lot")
        self.api("/api/v1/actions", {"action": "override", "payload": {"reason": "older lot damaged"}})
        self.expect("supervisor approves the newer lot (reason + badge)", self.tap("supervisor"), "lot_overridden")
        self.expect("scan SKU-013", self.scan(self.item("SKU-013")), "item_accepted")
        expected = w.expected_g("SO-10001")
        allowed = (expected * Decimal("0.05")).quantize(Decimal("0.1"))
        self.expect(f"{expected + allowed + 1} g: just outside +5 % -> blocked", self.weigh(expected + allowed + 1),
                    "weight_out_of_tolerance")
        # the blocked parcel is weighed again by itself when the load changes and settles (an audited re-weigh)
        self.expect(f"corrected to {expected - allowed - 1} g: weighed again, just outside -5 % -> blocked",
                    self.weigh(expected - allowed - 1), "weight_out_of_tolerance")
        fifo = self.expect(f"corrected to {expected - allowed + 1} g: just inside -5 % -> OK, label printed",
                           self.weigh(expected - allowed + 1), "label_printed")
        self.scan_label("label scanned -> packed", fifo["data"]["waybill"] if fifo else None)
        self.settle("0")

        # 4. expired lot refused
        self.expect("scan order SO-10003 (honey)", self.scan("SO-10003"), "order_opened")
        self.expect("expired honey lot refused", self.scan(self.item("SKU-005", 0)), "lot_expired")
        self.pack_order("SO-10003")
        expected = w.expected_g("SO-10003")
        allowed = (expected * Decimal("0.05")).quantize(Decimal("0.1"))
        honey = self.weigh_label(f"weigh SO-10003 {expected + allowed - 1} g: just inside +5 % -> OK",
                                 expected + allowed - 1)
        self.scan_label("label scanned -> packed", honey)
        self.settle("0")

        # 5. special item needs a second person's badge
        self.expect("scan order SO-10002 (earbuds: special)", self.scan("SO-10002"), "order_opened")
        self.expect("special item -> second badge required", self.scan(self.item("SKU-008")), "second_badge_required")
        self.expect("same packer's badge is not a second person", self.tap("packer"), "second_badge_same_person")
        self.expect("second packer taps -> item counted", self.tap("packer2"), "item_accepted")
        self.pack_order("SO-10002", skip=("SKU-008",))
        special = self.weigh_label("weigh SO-10002 -> OK", w.expected_g("SO-10002"))
        self.scan_label("label scanned -> packed", special)
        self.settle("0")
        self.labels_walk()
        self.expect("packer taps again -> signed out", self.tap("packer"), "signed_out")

        # 6. escalation: picked on a PDA, not packed within 12 minutes
        login = self.api("/api/v1/pda/login", {"badge": BADGES["picker"], "pin": "4321"})
        self.record("picker signs in on the PDA (badge code + PIN)", login.get("status") == "ok", login.get("message", ""))
        picked = self._pick("SO-10012")
        self.record("PDA picks SO-10012 bin by bin into its tote", picked, "order_picked" if picked else "pick failed")
        hooks = self.hooks
        self.clock.advance(12 * 60 - 1)
        self.rig.agent._wake()
        time.sleep(0.5)
        self.record("11:59 after the pick: no escalation yet", not hooks.received, f"{len(hooks.received)} notifications")
        self.clock.advance(1.5)
        self.rig.agent._wake()
        end = time.monotonic() + 5
        while time.monotonic() < end and not hooks.received:
            time.sleep(0.05)
        self.record("12:00 after the pick: supervisor notified once", len(hooks.received) == 1,
                    (hooks.received[0].get("title", "") if hooks.received else "nothing received")[:80])
        self.clock.advance(60)
        self.rig.agent._wake()
        time.sleep(0.5)
        self.record("a minute later: still exactly one notification", len(hooks.received) == 1,
                    f"{len(hooks.received)} notifications")
        row: dict[str, Any] = next((r for r in self.station.supervisor_overview()["milestones"]
                                    if r["order_id"] == "SO-10012"), {})
        self.record("escalated order released with priority", row.get("priority") == 1, f"priority={row.get('priority')}")

        # 7. every confirmation reaches upstream, exactly once
        self._check_upstream()
        # 8. evidence record, audit chain, dock hand-over (station/evidence.py, audit_chain.py, dock.py)
        self._evidence_and_dock()
        # 9. a return (逆向物流): SO-10009 comes back, received, inspected, graded, weighed, refunded once
        self._return_walk()
        return all(ok for _, ok, _ in self.results)

    def _evidence_and_dock(self) -> None:
        self.api("/api/v1/pda/login", {"badge": BADGES["supervisor"], "pin": "9876"})
        rec = self.http.get(f"{self.base}/api/v1/supervisor/evidence/SO-10011", timeout=10).json()
        frames = [f for w in rec.get("weighings", []) for f in w.get("frames", [])]
        self.record("evidence of SO-10011: scans, supervisor badge, weighings with raw scale frames",
                    len(rec.get("scans", [])) >= 2 and bool(rec.get("badges", {}).get("supervisor")) and bool(frames),
                    f"{len(rec.get('scans', []))} scans, {len(frames)} raw frames")
        self._packing_video("SO-10009")
        report = audit_chain.verify(self.station.parts.conn)
        self.record("packgate audit verify: the audit log's hash chain is intact", report.ok and report.rows > 0,
                    f"{report.rows} rows")
        opened = self.api("/api/v1/dock/batches", {"carrier": "SF", "vehicle": "粤B-12345", "route": "north"})
        batch = (opened.get("batch") or {}).get("batch_id", "?")
        dock = f"/api/v1/dock/batches/{batch}"
        for title, path, code, wanted in (
                ("dock: SO-10009 into the SF hand-over", "scan", "SO-10009", "dock_parcel_added"),
                ("dock: SO-10009 again -> already handed over", "scan", "SO-10009", "dock_already_handed_over"),
                ("dock: SO-10002 (YTO) -> another carrier", "scan", "SO-10002", "dock_wrong_carrier"),
                ("dock: close the hand-over -> ship_load per parcel + manifest", "close", None, "dock_batch_handed_over")):
            got = self.api(f"{dock}/{path}", {"code": code} if code else {})
            self.record(title, got.get("code") == wanted, f"{got.get('code')}: {got.get('message', '')[:90]}")
        end, shipped = time.monotonic() + 15, []
        while time.monotonic() < end and "SO-10009" not in shipped:
            self.rig.agent.worker.wake()
            time.sleep(0.2)
            got = requests.get(f"{self.rig.upstream_url}/v1/admin/shipments", timeout=5,
                               headers={"Authorization": f"Bearer {self.rig.admin_token}"}).json()
            shipped = [s["order_id"] for s in got.get("shipments", [])]
        self.record("upstream ships SO-10009 exactly once", shipped.count("SO-10009") == 1, ", ".join(shipped))

    def _return_walk(self) -> None:
        """RMA-0001 (the demo WMS's return of SO-10009, packed above) at this table, signed in on the PDA."""
        self.rig.agent.cache.refresh()  # the RMA now carries what SO-10009's pack recorded

        def step(action: str, **body: Any) -> dict:
            return self.api("/api/v1/returns", {"action": action, "key": uuid.uuid4().hex, **body})

        got = step("scan", code="RT-SF-0001")
        view = self.http.get(f"{self.base}/api/v1/returns", timeout=10).json()
        shipped = sorted(u["sku"] for u in (view.get("outbound") or {}).get("units", []))
        self.record("return: waybill RT-SF-0001 opens RMA-0001 beside what was packed",
                    got.get("code") == "return_received" and shipped == ["SKU-007", "SKU-025"],
                    f"{got.get('code')}: packed {', '.join(shipped)}")
        wrong = step("scan", code=self.item("SKU-012"))
        self.record("return: an item not in the RMA is refused", wrong.get("code") == "return_item_not_in_rma",
                    wrong.get("message", "")[:80])
        taken = [str(step("scan", code=self.item(sku)).get("code")) for sku in ("SKU-007", "SKU-025")]
        self.record("return: both units scanned in", taken == ["return_item_taken"] * 2, ", ".join(taken))
        graded = [step("grade", payload={"unit": n, "grade": "A"}) for n in (1, 2)]
        self.record("return: graded A, put-away lot and bin named", all(g.get("code") == "return_graded_a"
                                                                         for g in graded),
                    "; ".join(g.get("message", "")[:50] for g in graded))
        self.settle(Decimal("94"))
        weighed = step("weigh")
        self.record("return: the scale's reading matches the returned items", weighed.get("code") == "return_weight_ok",
                    weighed.get("message", "")[:80])
        closed = step("close")
        self.record("return: closed -> refund", closed.get("code") == "return_closed_refund",
                    closed.get("message", "")[:80])
        self.settle("0")
        end, rma = time.monotonic() + 15, dict[str, Any]()
        while time.monotonic() < end and rma.get("status") != "refunded":
            self.rig.agent.worker.wake()
            time.sleep(0.2)
            rma = requests.get(f"{self.rig.upstream_url}/v1/admin/rmas/RMA-0001", timeout=5,
                               headers={"Authorization": f"Bearer {self.rig.admin_token}"}).json().get("rma", {})
        outcomes = requests.get(f"{self.rig.upstream_url}/v1/admin/returns/outcomes", timeout=5,
                                headers={"Authorization": f"Bearer {self.rig.admin_token}"}).json()["outcomes"]
        self.record("upstream refunds RMA-0001 exactly once and restocks it",
                    rma.get("status") == "refunded" and [o["rma_id"] for o in outcomes].count("RMA-0001") == 1,
                    f"{rma.get('status')}; restocked {len(rma.get('restocked') or [])} lot(s)")
        record = self.http.get(f"{self.base}/api/v1/returns/RMA-0001/evidence", timeout=10).json()
        self.record("the return's evidence record: steps, photos, weighing, seal",
                    len(record.get("steps", [])) >= 6 and bool(record.get("evidence_sha256")),
                    f"{len(record.get('steps', []))} steps, {len(record.get('photos', []))} photos")

    def _packing_video(self, order_id: str) -> None:
        """The order's clip: in its evidence record, played from the supervisor API, readable, with the
        overlay burned in, and its SHA-256 in the pack confirmation upstream holds."""
        rec = self.http.get(f"{self.base}/api/v1/supervisor/evidence/{order_id}", timeout=10).json()
        clips = [c for c in rec.get("clips", []) if c.get("outcome") == "packed"]
        sha = clips[0]["sha256"] if clips else ""
        served = self.http.get(f"{self.base}/api/v1/supervisor/evidence/{order_id}/clips/{sha}", timeout=10)
        body = served.content if served.status_code == 200 else b""
        kind = served.headers.get("Content-Type", "")
        frames, overlay = clip_frames(body, self.rig.data_dir / "clip-check" / ("clip.mp4" if "mp4" in kind else "clip.webm"))
        client = UpstreamClient(self.rig.upstream_url, deadline_s=5, token=self.rig.admin_token)
        try:
            packs = [c for c in client.order_confirmations(order_id) if c["action"] == "pack"]
        finally:
            client.close()
        hashed = [(c.get("payload") or {}).get("clip_sha256") for c in packs]
        self.record(f"packing video of {order_id}: plays from the supervisor page, overlay burned in, its SHA-256 "
                    "in the pack confirmation",
                    bool(sha) and kind.startswith("video/")
                    and hashlib.sha256(body).hexdigest() == sha and frames >= 5 and overlay and hashed == [sha],
                    f"{kind}, {len(body)} bytes, {frames} frames, sha {sha[:12]}")

    # ---- the label gate -------------------------------------------------------------------------
    def weigh_label(self, title: str, grams: Decimal) -> str | None:
        """Weigh a parcel that passes: its label prints; the waybill printed."""
        verdict = self.expect(title, self.weigh(grams), "label_printed")
        return verdict["data"]["waybill"] if verdict else None

    def scan_label(self, title: str, waybill: str | None, code: str = "packed") -> dict | None:
        if waybill is None:
            self.record(title, False, "no label was printed")
            return None
        return self.expect(title, self.scan(waybill), code)

    def expected_now(self) -> Decimal:
        shown = self.station.state()["session"]["expected"] or {}
        return Decimal(shown.get("expected_g") or "0")

    def labels_walk(self) -> None:
        """Two cartons of one order, a printer out of paper, and weigh-and-ship on a second table."""
        self.expect("scan order SO-10008 (two cartons)", self.scan("SO-10008"), "order_opened")
        for _ in range(2):
            self.expect("scan SKU-003 into carton 1", self.scan(self.item("SKU-003")), "item_accepted")
        self.expect("close carton 1 in BOX-M", lambda: self.api("/api/v1/actions", {"action": "close_carton",
                                                                                      "payload": {"box": "BOX-M"}}),
                    "carton_closing")
        one = self.weigh_label(f"carton 1 weighed ({self.expected_now()} g expected) -> its label printed",
                               self.expected_now())
        self.scan_label("carton 1's label scanned -> carton packed, order still open", one, "carton_packed")
        self.settle("0")
        self.expect("scan SKU-011 into carton 2", self.scan(self.item("SKU-011")), "item_accepted")
        two = self.weigh_label("carton 2 weighed -> its label printed", self.expected_now())
        self.record("two cartons, two waybills", bool(one and two and one != two), f"{one} / {two}")
        self.scan_label("carton 2's label scanned -> order packed", two)
        self.settle("0")

        self.expect("scan order SO-10016", self.scan("SO-10016"), "order_opened")
        self.pack_order("SO-10016")
        self.rig.printer.set_state("paper_out")
        self.expect("printer out of paper -> red verdict with what to do", self.weigh(self.expected_now()),
                    "printer_not_ready")
        health = self.http.get(f"{self.base}/healthz", timeout=5).json()
        self.record("/healthz shows the printer problem", any(p.startswith("printer not ready") for p in health["problems"]),
                    "; ".join(health["problems"])[:90])
        resumed = self.expect("labels loaded -> printing resumes by itself", lambda: self.rig.printer.set_state(),
                              "label_printed", timeout=8.0)
        self.scan_label("label scanned -> packed", resumed["data"]["waybill"] if resumed else None)
        self.settle("0")
        self.weigh_and_ship()

    def weigh_and_ship(self) -> None:
        """A second table in weigh-and-ship mode (称重发货) on the same upstream, driven through its API."""
        from packgate.station import migrations
        from packgate.station.runtime.config import validate
        from packgate.station.service import Station
        from packgate.sync.outbox import Outbox
        from packgate.sync.reference import ReferenceCache
        from packgate.sync.worker import OutboxWorker

        db = str(self.rig.data_dir / "weigh-and-ship.db")
        migrations.upgrade_file(db, self.clock)  # the schema first, as the agent does
        cfg = validate({"station.id": "ST02", "upstream.url": self.rig.upstream_url, "label.mode": "weigh_and_ship"})
        client = UpstreamClient(self.rig.upstream_url, deadline_s=5, clock=self.clock,
                                token=self.rig.station_tokens.get("ST02"))
        cache = ReferenceCache(db, client, self.clock)
        cache.refresh()
        table = Station(cfg, db_path=db, cache=cache, outbox=Outbox(db, "ST02", self.clock), clock=self.clock,
                        label_upstream=client)
        try:
            assert table.labels is not None
            table.labels.reserve_ahead(["SO-10015"])
            waybill = table.parts.conn.execute("SELECT waybill FROM waybill_pool WHERE order_id = 'SO-10015' "
                                               "ORDER BY waybill").fetchone()[0]
            table.handle({"action": "badge", "object_id": BADGES["packer3"]})
            opened = table.handle({"action": "scan", "object_id": waybill})
            self.record("weigh-and-ship: the pre-printed waybill opens SO-10015", opened["code"] == "order_opened",
                        f"{waybill}: {opened['message'][:60]}")
            for line in self.world.orders["SO-10015"]["lines"]:
                for _ in range(line["qty"]):
                    table.handle({"action": "scan", "object_id": self.item(line["sku"])})
            grams = str(self.world.expected_g("SO-10015", table.pack.packaging))
            shipped = table.handle({"action": "weigh", "payload": {"grams": grams, "stable": True}})
            self.record("weigh-and-ship: the passing weighing ships it", shipped["code"] == "shipped",
                        shipped["message"][:90])
            again = table.handle({"action": "weigh", "payload": {"grams": grams, "stable": True}})
            self.record("the same weighing again never ships twice", again["status"] == "error", again["code"])
            OutboxWorker(db, client, self.clock).drain()
            ships = [c for c in client.order_confirmations("SO-10015")
                     if c["action"] == "pack" and (c.get("payload") or {}).get("shipped")]
            self.record("upstream has exactly one shipment of SO-10015", len(ships) == 1, f"{len(ships)} shipment(s)")
        finally:
            table.close()
            cache.close()
            client.close()

    def _pick(self, order_id: str) -> bool:
        start = self.api("/api/v1/actions", {"action": "pick", "object_type": "order", "object_id": order_id,
                                            "terminal": "pda", "device": "pda-1"})
        view = (start.get("data") or {}).get("pick")
        if not view:
            self.record(f"start picking {order_id}", False, start.get("message", ""))
            return False
        for task in view["tasks"]:
            sku = self.world.skus[task["sku"]]
            self.api("/api/v1/actions", {"action": "scan", "object_id": task["bin"], "terminal": "pda", "device": "pda-1"})
            lot = next((l for l in self.world.lots(task["sku"]) if l["lot"] == task["lot"]), None)
            code = gs1_item(sku["gtin"], task["lot"], date.fromisoformat(lot["expires"]) if lot and lot.get("expires") else None) \
                if task["lot"] else sku["gtin"]
            for _ in range(task["qty"]):
                answer = self.api("/api/v1/actions", {"action": "scan", "object_id": code, "terminal": "pda",
                                                      "device": "pda-1"})
                if answer.get("status") == "error":
                    self.record(f"pick {task['sku']} from {task['bin']}", False, answer.get("message", ""))
                    return False
        done = self.api("/api/v1/actions", {"action": "scan", "object_id": self.world.orders[order_id]["tote"],
                                           "terminal": "pda", "device": "pda-1"})
        return done.get("code") == "order_picked"

    def _check_upstream(self) -> None:
        end = time.monotonic() + 20
        status: dict = {}
        while time.monotonic() < end:
            status = self.station.sync_status()
            if status.get("depth") == 0:
                break
            self.rig.agent.worker.wake()
            time.sleep(0.2)
        self.record("outbox drained to upstream", status.get("depth") == 0,
                    f"depth={status.get('depth')} dead={status.get('dead')}")
        client = UpstreamClient(self.rig.upstream_url, deadline_s=5, token=self.rig.admin_token)
        try:
            confs = client.order_confirmations("SO-10009")
        finally:
            client.close()
        actions = [c["action"] for c in confs]
        ids = [c["id"] for c in confs]
        wanted = {"scan", "verify", "weigh", "pack"}
        self.record("upstream has SO-10009's scan, verify x2, weigh, pack",
                    wanted <= set(actions) and actions.count("verify") == 2, ", ".join(actions))
        self.record("no confirmation counted twice upstream", len(ids) == len(set(ids)), f"{len(ids)} confirmations")


def clip_frames(data: bytes, path: Path) -> tuple[int, bool]:
    """How many frames OpenCV reads from a clip, and whether its first frame has the overlay's bright text
    on the dark strip at the top."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    capture = cv2.VideoCapture(str(path))
    frames, overlay = 0, False
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frames == 0:
                strip = frame[:60]
                overlay = int((strip > 200).sum()) > 200 and float(strip.mean()) < 100
            frames += 1
    finally:
        capture.release()
    return frames, overlay


def selftest(data_dir: str | None = None, out: Callable[[str], None] = print) -> int:
    started = time.monotonic()
    clock = OffsetClock()
    hooks = WebhookReceiver()
    rig = build_rig(port=0, upstream_port=0, data_dir=data_dir, clock=clock, camera=True,
                    overrides={"escalation.notify": [hooks.url], "upstream.refresh_s": 5.0, "label.mode": "print"})
    walk = Walk(rig, clock, hooks, out)
    try:
        ok = walk.run()
    except Exception as exc:  # noqa: BLE001 - report, never hang
        walk.record("walkthrough crashed", False, f"{type(exc).__name__}: {exc}")
        ok = False
    finally:
        rig.stop()
        hooks.close()
    site_hooks = WebhookReceiver()  # the site's own supervisors' channel, on its own clock
    try:
        site_walk(OffsetClock(), site_hooks.url, site_hooks.received, walk.record,
                  data_dir=None if data_dir is None else f"{data_dir}/site")
    except Exception as exc:  # noqa: BLE001 - report, never hang
        walk.record("site walkthrough crashed", False, f"{type(exc).__name__}: {exc}")
    finally:
        site_hooks.close()
    passed = sum(1 for _, good, _ in walk.results if good)
    failed = len(walk.results) - passed
    out(f"selftest: {passed} passed, {failed} failed in {time.monotonic() - started:.1f} s")
    return 0 if ok and failed == 0 else 1
