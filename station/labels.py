"""The label desk: the station's collaborator that requests a carton's label and prints it, only once the
pack machine says every rule passed (``core.labels``), and reprints the same job.

    desk = LabelDesk(parts, step, show, upstream=client, printer=StationPrinter(url, profile))
    desk.after_step(before, after)    # Station calls it after every pack step: a weighed carton gets its label,
    desk.run_due()                    #   printed after the turn, without the station lock
    desk.reprint(reason, meta)        # the same job again (audited), never a second waybill
    desk.tick()                       # printer state, "printing resumes", the verify reminder, offline sync

The request (``POST /v1/labels``) is frozen in ``label_jobs`` before it is sent, under the carton's key, so a
retry or a restart asks with the same bytes and gets the same waybill. When upstream (or the hub) is
unreachable a waybill pre-issued to the order (``POST /v1/waybills/reserve``, fetched ahead by ``tick``) is
used and the label is filled from the station's template; the request carrying that waybill is sent once
upstream is back. Printer problems are a red verdict naming each fault with what to do (the printer's detailed
status is asked on a fault); the poll also asks it for the warnings (ribbon low, media low), shown with the
printer's device state before they stop the table; the device state shows on /healthz.

An order the WMS held or cancelled (订单拦截) is asked about before the request and again just before the job goes to
the printer (``stop``, the station's check): its answer is the verdict and nothing prints. A label waiting for the
printer is withdrawn the moment the station learns the order is stopped (``on_word``), and waits again once a held
order is released.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any, Callable, Protocol

from packgate.device.clock import isoformat
from packgate.device.errors import DeviceError, LabelError, PrinterNotReadyError
from packgate.device.printer.driver import Printer
from packgate.device.printer.label import LabelFields
from packgate.device.printer.spec import LabelTemplate, fill, language_mismatch
from packgate.device.printer.status import PrinterStatus
from packgate.device.profiles import Profile
from packgate.station import label_store
from packgate.station.core import labels as lb
from packgate.station.core import packing as pk
from packgate.station.core.verdicts import make, printer_notices, printer_problems
from packgate.station.parts import Parts
from packgate.station.ports import LabelPrinter, LabelUpstream
from packgate.sync.common.db import write_tx
from packgate.sync.errors import PermanentUpstreamError, TransientUpstreamError

log = logging.getLogger("packgate.labels")

Step = Callable[[pk.Event, dict], dict]
Show = Callable[[dict], dict]
Stop = Callable[[str, dict], "dict | None"]  # (step, meta) -> the interception's answer, or None: go on
Revision = Callable[[str], int]  # order id -> the WMS's revision of it known here (1: never changed)


class DeviceState(Protocol):
    def __call__(self, name: str, state: str, detail: str | None, notices: tuple[dict, ...] = ()) -> None: ...


PRINTER = "printer"


class StationPrinter:
    """The table's printer over ``device.printer.Printer``: one connection, reopened after a failure."""

    def __init__(self, url: str, profile: Profile, *, timeout: float | None = None):
        self.printer = Printer(url, profile, timeout=timeout)
        self._lock = threading.Lock()

    def _guard(self, call: Callable[[Printer], PrinterStatus]) -> PrinterStatus:
        with self._lock:
            try:
                return call(self.printer)
            except PrinterNotReadyError:
                raise
            except DeviceError:
                self.printer.close()  # a broken link is opened again on the next call
                raise

    def status(self, detail: bool | None = None) -> PrinterStatus:
        return self._guard(lambda p: p.status(detail))

    def print(self, job: bytes) -> PrinterStatus:
        return self._guard(lambda p: p.print(job))

    def close(self) -> None:
        with self._lock:
            self.printer.close()


class LabelDesk:
    def __init__(self, parts: Parts, step: Step, show: Show, device_state: DeviceState, *,
                 template: LabelTemplate, upstream: LabelUpstream | None, printer: LabelPrinter | None,
                 stop: Stop | None = None, revision: Revision | None = None):
        self.parts = parts
        self.step = step
        self.stop: Stop = stop or (lambda _step, _meta: None)
        self.revision: Revision = revision or (lambda _order_id: 1)
        self.show = show
        self.device_state = device_state
        self.template = template
        self.upstream = upstream
        self.printer = printer
        cfg = parts.cfg
        self.mode = lb.LabelMode(cfg["label.mode"])
        self.verify: bool = cfg["label.verify"]
        self.remind_s: float = cfg["label.verify_remind_s"]
        self.format: str = cfg["label.format"]
        self.reserve_per_order: int = cfg["label.reserve_per_order"]
        self.poll_s: float = cfg["printer.poll_s"]
        self._printed_at: datetime | None = None
        self._reminded_at: datetime | None = None
        self._polled_at: float | None = None
        self._notices: tuple[dict, ...] = ()  # the printer's warnings at the last poll
        self._previews: dict[str, bytes] = {}
        self._due: Callable[[], dict] | None = None  # a print to run once the station lock is released
        with parts.lock:
            self._audit_verify_setting()
            if self.mode is lb.LabelMode.PRINT and parts.live.pack.state is pk.State.WEIGHED_OK:
                self._progress("failed", problem="restart")  # a carton passed before a restart: print when ready

    # ------------------------------------------------------------------ what the kiosk shows
    def view(self) -> dict[str, Any] | None:
        return self.parts.live.label

    def owner(self, code: str) -> str | None:
        return label_store.owner_of(self.parts.conn, code.strip())

    def job(self, waybill: str) -> dict | None:
        return label_store.job_by_waybill(self.parts.conn, waybill)

    def preview(self, waybill: str) -> bytes | None:
        """The label as printed, drawn locally (device.label_preview), for the kiosk."""
        from packgate.device.printer.preview import preview

        with self.parts.lock:
            job = label_store.job_by_waybill(self.parts.conn, waybill)
        if job is None or job["job"] is None:
            return None
        if waybill not in self._previews:
            self._previews[waybill] = preview(bytes(job["job"]), job["language"] or self.template.language,
                                              self.template.dpi)
            while len(self._previews) > 20:
                self._previews.pop(next(iter(self._previews)))
        return self._previews[waybill]

    def _progress(self, state: str, **more: Any) -> None:
        s = self.parts.live.pack
        shown = {"state": state, "order_id": s.order.order_id if s.order else None, "carton": s.carton_no, **more}
        if shown.get("waybill"):
            shown["preview"] = f"/api/v1/labels/{shown['waybill']}/preview.png"
        self.parts.live.label = shown
        self.parts.bus.publish("label", shown)

    # ------------------------------------------------------------------ after every pack step
    def after_step(self, before: pk.PackSession, after: pk.PackSession) -> dict | None:
        """A carton that just passed gets its label (print mode); a verified label is shown as such."""
        live = self.parts.live
        if len(after.cartons) > len(before.cartons):
            live.scale_must_clear = live.parcel_on_scale  # the next weighing is of the next parcel
        if self.mode is lb.LabelMode.PRINT and after.state is pk.State.WEIGHED_OK \
                and before.state is not pk.State.WEIGHED_OK:
            self.queue({"device": self.parts.device_id(PRINTER)})
            return None
        if before.state is pk.State.LABEL_PRINTED and after.state is not pk.State.LABEL_PRINTED:
            self._printed_at = None
            if live.label is not None and after.cartons and after.cartons[-1].waybill == live.label.get("waybill"):
                self._progress("verified", waybill=live.label["waybill"], carton=after.cartons[-1].number)
            else:
                live.label = None
        elif after.state not in pk.ORDER_STATES and before.state in pk.ORDER_STATES \
                and after.state is not pk.State.PACKED:
            live.label = None
        return None

    # ------------------------------------------------------------------ request and print
    # Asking upstream for the waybill and sending the job to the printer take up to seconds: they run without
    # the station lock (``run_due`` from the station's entry points, after their turn), so the scanner, the
    # scale and the other terminals are never held up by them. The lock covers only what is read and written.
    def queue(self, meta: dict) -> None:
        """Print the carton's label after this turn (called under the station lock)."""
        self._due = lambda: self.print_label(meta)

    def queue_reprint(self, reason: str, meta: dict) -> None:
        self._due = lambda: self.reprint(reason, meta)

    @property
    def due(self) -> bool:
        return self._due is not None

    def run_due(self) -> dict | None:
        """What the last turn queued (a print, a reprint), done now; its verdict (None: nothing was queued)."""
        due, self._due = self._due, None
        return None if due is None else due()

    def print_label(self, meta: dict) -> dict:
        """Request (or find) the carton's label and print it; the answer is the verdict shown."""
        p = self.parts
        with p.lock:
            s = p.live.pack
            if s.state is not pk.State.WEIGHED_OK or s.order is None:
                return self.show(make("not_allowed_now", status="error", next=pk.NEXT_IN_STATE[s.state],
                                      event="label_printed", state=str(s.state)).as_dict())
            carton = (s.order.order_id, s.carton_no)
            revision = self.revision(s.order.order_id)
            key = lb.label_key(p.id, *carton, revision)
            job = label_store.job_by_key(p.conn, key)
            stopped = self._stopped("label_request" if job is None or job["waybill"] is None else "print", meta)
            if stopped is not None:
                return stopped
            request = self._request(s, key, job, revision) if job is None or job["waybill"] is None else None
        offline_left: int | None = None
        if request is not None:
            issued = self._issue(request, self._ask(request["body"]))
            if isinstance(issued, dict):
                return issued
            job, offline_left = issued
        assert job is not None
        return self._print_job(job, carton, meta, offline_left)

    def _print_job(self, job: dict, carton: tuple[str, int], meta: dict, offline_left: int | None) -> dict:
        """Send the carton's stored job to the printer (no lock held while it prints); the verdict shown."""
        p = self.parts
        with p.lock:
            stopped = self._stopped("print", meta)  # the WMS may have decided while upstream was asked
            if stopped is not None:
                return stopped
            changed = _revision_of(job) < self.revision(str(job["order_id"]))  # a new address or carrier meanwhile
            if not changed:
                self._progress("printing", waybill=job["waybill"])
        if changed:
            return self.print_label(meta)  # the label of the new revision instead: never the old address
        problem = self._send(bytes(job["job"]))
        with p.lock:
            if problem is not None:
                self._progress("failed", waybill=job["waybill"], problem=problem["code"])
                return self.show(problem)
            with write_tx(p.conn) as conn:
                label_store.mark_printed(conn, job["key"], isoformat(p.clock.now()))
            s = p.live.pack
            if s.state is not pk.State.WEIGHED_OK or s.order is None or (s.order.order_id, s.carton_no) != carton:
                return p.live.verdict or {}  # the table moved on meanwhile (stopped, signed out): the job stays stored
            return self._printed(job, meta, offline_left)

    def _request(self, s: pk.PackSession, key: str, job: dict | None, revision: int) -> dict:
        """The carton's label request, frozen in ``label_jobs`` before it is sent (under the lock)."""
        assert s.order is not None
        order_id, carton = s.order.order_id, s.carton_no
        at = isoformat(self.parts.clock.now())
        grams = s.weight.measured_g if s.weight and s.weight.measured_g is not None else None
        weight_g = int(grams) if grams is not None else int((s.weight.expected_g or 1) if s.weight else 1)
        cartons = carton if s.complete else carton + 1  # more cartons follow: at least one more
        body = job["body"] if job else lb.request_body(key, order_id, carton, cartons, weight_g, s.packaging,
                                                      self.format, revision=revision)
        if job is None:
            with write_tx(self.parts.conn) as conn:
                label_store.add_request(conn, key, order_id, carton, body, at)
        self._progress("requested")
        return {"key": key, "order_id": order_id, "carton": carton, "cartons": cartons, "weight_g": weight_g,
                "body": body, "at": at}

    def _ask(self, body: dict) -> dict | Exception:
        """Upstream's answer to the label request, or why there is none (no lock held)."""
        try:
            if self.upstream is None:
                raise TransientUpstreamError("no upstream configured")
            return self.upstream.request_label(body)
        except (PermanentUpstreamError, TransientUpstreamError) as exc:
            return exc

    def _issue(self, request: dict, answer: dict | Exception) -> tuple[dict, int | None] | dict:
        """Store the waybill upstream gave, or one pre-issued to the order when it is unreachable; the job and the
        pre-issued waybills left, or the verdict of a refusal."""
        p = self.parts
        order_id, carton, cartons, key = request["order_id"], request["carton"], request["cartons"], request["key"]
        source, left = "upstream", None
        with p.lock:
            if isinstance(answer, Exception):
                if isinstance(answer, PermanentUpstreamError) or getattr(answer, "status", None) in (404, 409):
                    self._progress("failed", problem=str(answer))  # refused, not offline
                    return self.show(make("label_refused", problem=str(answer), problem_zh=str(answer)).as_dict())
                free = label_store.free_reserved(p.conn, order_id)
                if not free:
                    log.warning("label for %s carton %s: upstream unreachable (%s), no pre-issued waybill", order_id,
                                carton, answer)
                    self._progress("failed", problem="no_waybill_left")
                    return self.show(make("label_no_waybill_left", order_id=order_id).as_dict())
                waybill, source, left = free[0], "reserved", len(free) - 1
                sent = {**request["body"], "waybill": waybill}
                row = p.catalog.cache.get_order(order_id) or {}
                fields = lb.label_fields(order_id, waybill, carton, cartons, request["weight_g"], request["at"][:10],
                                         str(p.cfg["station.name"]), row.get("ship_to"))
            else:
                fields, waybill, sent = answer["fields"], answer["waybill"], request["body"]
            try:
                data = fill(self.template, LabelFields.from_dict(fields))
            except LabelError as exc:
                self._progress("failed", problem=str(exc))
                return self.show(make("label_refused", problem=str(exc), problem_zh=str(exc)).as_dict())
            with write_tx(p.conn) as conn:
                if source == "reserved":
                    label_store.use_reserved(conn, waybill, key)
                label_store.set_issued(conn, key, sent, waybill, fields, data, self.template.language, source,
                                       synced=source == "upstream")
            job = label_store.job_by_key(p.conn, key)
        assert job is not None
        return job, left

    def _stopped(self, step: str, meta: dict) -> dict | None:
        """The interception's answer to ``step`` (under the lock): the label is withdrawn, nothing prints."""
        label = self.parts.live.label
        answered = self.stop(step, meta)
        if answered is not None and answered.get("status") == "intercepted":
            if self.parts.live.label is not None:  # still the carton's (a cancellation ended the order: cleared)
                self._progress("withdrawn", waybill=(label or {}).get("waybill"))
        return answered

    def on_word(self, stops: bool) -> None:
        """The WMS's new word on the order open here (under the lock): a label waiting for the printer is withdrawn
        when the order is stopped, and waits for the printer again (printed when it is ready) once released."""
        label = self.parts.live.label
        state = (label or {}).get("state")
        if stops and state in ("requested", "failed"):
            self._progress("withdrawn", waybill=(label or {}).get("waybill"))
        elif not stops and state == "withdrawn" and self.parts.live.pack.state is pk.State.WEIGHED_OK:
            self._progress("failed", waybill=(label or {}).get("waybill"), problem="released")

    def _printed(self, job: dict, meta: dict, offline_left: int | None) -> dict:
        """The label is on the printer's output: the carton waits for its scan (under the lock)."""
        waybill, carton = job["waybill"], int(job["carton"])
        self._printed_at = self._reminded_at = self.parts.clock.now()
        self._progress("verify_expected" if self.verify else "verified", waybill=waybill, carton=carton)
        shown = self.step(lb.LabelPrinted(waybill, carton, _revision_of(job)), meta)  # its state push carries the label as printed
        after = self.parts.live.pack
        if offline_left is not None and after.state is pk.State.LABEL_PRINTED:
            return self.show(make("label_printed_offline", waybill=waybill, left=offline_left,
                                  order_id=job["order_id"]).as_dict())
        return shown

    def _send(self, data: bytes) -> dict | None:
        """Print ``data`` (no lock held); the verdict of a printer problem, or None when it printed."""
        if self.printer is None:
            return make("printer_unreachable", detail="no printer configured", detail_zh="未配置打印机").as_dict()
        try:
            self.printer.print(data)
        except PrinterNotReadyError as exc:
            self._notices = tuple(printer_notices(exc.status.notices))
            self.device_state(PRINTER, "not_ready", exc.status.describe(), self._notices)
            return make("printer_not_ready", **printer_problems(exc.status.problems)).as_dict()
        except DeviceError as exc:
            self.device_state(PRINTER, "disconnected", str(exc))
            return make("printer_unreachable", detail=str(exc), detail_zh=str(exc)).as_dict()
        self.device_state(PRINTER, "connected", None, self._notices)
        return None

    def reprint(self, reason: str, meta: dict) -> dict:
        """The printed label again: the same stored job, the same waybill; audited by the pack machine. When the
        WMS changed the order's address or carrier since the label was printed, a new label is requested for the
        new revision (a new job, a new waybill) and printed instead."""
        p = self.parts
        with p.lock:
            s = p.live.pack
            if s.state is not pk.State.LABEL_PRINTED or s.label is None or s.order is None:
                return self.step(lb.Reprint(reason), meta)  # the machine's refusal (not_allowed_now)
            waybill = s.label.waybill
            stopped = self._stopped("reprint", meta)
            if stopped is not None:
                return stopped
            revision = self.revision(s.order.order_id)
            relabel = self._relabel_request(s, revision) if revision > s.label.revision else None
            job = label_store.job_by_waybill(p.conn, waybill)
        if relabel is not None:
            return self._relabel(relabel, reason, meta)
        if job is None or job["job"] is None:
            with p.lock:
                return self.show(make("label_refused", problem=f"no stored job for {waybill}",
                                      problem_zh=f"没有面单{waybill}的打印数据").as_dict())
        problem = self._send(bytes(job["job"]))
        with p.lock:
            if problem is not None:
                return self.show(problem)
            with write_tx(p.conn) as conn:
                label_store.mark_printed(conn, job["key"], isoformat(p.clock.now()))
            self._printed_at = self._reminded_at = p.clock.now()
            s = p.live.pack
            if s.state is not pk.State.LABEL_PRINTED or s.label is None or s.label.waybill != waybill:
                return p.live.verdict or {}
            return self.step(lb.Reprint(reason), meta)

    def _relabel_request(self, s: pk.PackSession, revision: int) -> dict:
        """The carton's label for the order's new revision (under the lock): its stored job, or its request."""
        assert s.order is not None
        carton = (s.order.order_id, s.carton_no)
        key = lb.label_key(self.parts.id, *carton, revision)
        job = label_store.job_by_key(self.parts.conn, key)
        request = self._request(s, key, job, revision) if job is None or job["waybill"] is None else None
        return {"carton": carton, "job": job, "request": request}

    def _relabel(self, relabel: dict, reason: str, meta: dict) -> dict:
        """Print the label of the order's new revision (no lock held while upstream is asked and the printer
        prints): a new job, a new waybill, which the pack machine takes as the carton's label."""
        p = self.parts
        job, request, carton = relabel["job"], relabel["request"], relabel["carton"]
        if request is not None:
            issued = self._issue(request, self._ask(request["body"]))
            if isinstance(issued, dict):
                return issued
            job = issued[0]
        assert job is not None
        problem = self._send(bytes(job["job"]))
        with p.lock:
            if problem is not None:
                return self.show(problem)
            with write_tx(p.conn) as conn:
                label_store.mark_printed(conn, job["key"], isoformat(p.clock.now()))
            now = p.live.pack
            if now.state is not pk.State.LABEL_PRINTED or now.label is None or now.order is None \
                    or (now.order.order_id, now.carton_no) != carton:
                return p.live.verdict or {}
            self._printed_at = self._reminded_at = p.clock.now()
            self._progress("verify_expected", waybill=job["waybill"], carton=int(job["carton"]))
            return self.step(lb.Reprint(reason, job["waybill"], _revision_of(job)), meta)

    # ------------------------------------------------------------------ the timers
    def tick(self) -> None:
        """Poll the printer (resume a label that failed), remind the packer of the scan, sync offline labels,
        fetch waybills ahead."""
        p = self.parts
        now_mono = p.clock.monotonic()
        if self.printer is not None and (self._polled_at is None or now_mono - self._polled_at >= self.poll_s):
            self._polled_at = now_mono
            self.poll_printer()
        with p.lock:
            s = p.live.pack
            if s.state is pk.State.LABEL_PRINTED and s.label is not None and self.remind_s > 0 \
                    and self._reminded_at is not None \
                    and (p.clock.now() - self._reminded_at).total_seconds() >= self.remind_s:
                self._reminded_at = p.clock.now()
                self.show(make("label_scan_reminder", waybill=s.label.waybill).as_dict())
        self.sync_offline()

    def poll_printer(self) -> None:
        """Ask the printer how it is (with its detailed status: faults and warnings); when it is ready again and a
        carton waits for its label, print it."""
        if self.printer is None:
            return
        try:
            status = self.printer.status(detail=True)  # the warnings too, while they can still be acted on
        except DeviceError as exc:
            self.device_state(PRINTER, "disconnected", str(exc))
            return
        self._notices = tuple(printer_notices(status.notices))
        self.device_state(PRINTER, "connected" if status.ready else "not_ready",
                          None if status.ready else status.describe(), self._notices)
        with self.parts.lock:
            waiting = self.parts.live.pack.state is pk.State.WEIGHED_OK and self.mode is lb.LabelMode.PRINT and \
                (self.parts.live.label or {}).get("state") == "failed"
        if status.ready and waiting:
            self.print_label({"device": self.parts.device_id(PRINTER)})

    def sync_offline(self) -> None:
        """Labels printed from pre-issued waybills: tell upstream which waybill each carton got."""
        if self.upstream is None:
            return
        with self.parts.lock:
            pending = label_store.unsynced(self.parts.conn)
        for job in pending:
            try:
                answer = self.upstream.request_label(job["body"])
            except TransientUpstreamError as exc:
                if exc.status != 409:
                    return  # still offline: next tick
                answer = {"waybill": None, "error": str(exc)}
            except PermanentUpstreamError as exc:
                answer = {"waybill": None, "error": str(exc)}
            error = None if answer.get("waybill") == job["waybill"] else \
                f"upstream answers {answer.get('waybill') or answer.get('error')} for the carton labelled {job['waybill']}"
            if error:
                log.error("label conflict for %s: %s", job["key"], error)
            with self.parts.lock, write_tx(self.parts.conn) as conn:
                label_store.set_synced(conn, job["key"], error)

    def reserve_ahead(self, order_ids: list[str] | None = None) -> int:
        """Fetch pre-issued waybills for orders that have none yet; returns how many were stored."""
        if self.upstream is None or self.reserve_per_order <= 0:
            return 0
        p = self.parts
        if order_ids is None:
            order_ids = [o.order_id for o in p.catalog.orders() if o.status not in pk.NOT_PACKABLE]
        stored = 0
        for order_id in order_ids:
            with p.lock:
                if label_store.reserved_count(p.conn, order_id) > 0:
                    continue
            key = f"{p.id}:reserve:{order_id}"
            try:
                answer = self.upstream.reserve_waybills({"key": key, "order_id": order_id,
                                                         "count": self.reserve_per_order, "format": self.format})
            except TransientUpstreamError:
                return stored  # offline: try again later
            except PermanentUpstreamError as exc:
                log.warning("cannot reserve waybills for %s: %s", order_id, exc)
                continue
            codes = [str(w) for w in answer["waybills"]]
            with p.lock, write_tx(p.conn) as conn:
                label_store.add_reserved(conn, order_id, key, codes, isoformat(p.clock.now()))
            stored += len(codes)
        return stored

    def _audit_verify_setting(self) -> None:
        """Turning the label scan check off (or on) is a manual change: audited once per change."""
        p = self.parts
        value = "on" if self.verify else "off"
        before = label_store.get_meta(p.conn, "label.verify")
        if before == value or (before is None and self.verify):
            return
        from packgate.station import store

        with write_tx(p.conn) as conn:
            store.add_audit(conn, isoformat(p.clock.now()), "config", "config_change", None,
                            {"label.verify": before or "on"}, {"label.verify": value},
                            f"label.verify = {str(self.verify).lower()} in {getattr(p.cfg, 'source', None) or 'config'}",
                            p.device_id("kiosk"))
            label_store.set_meta(conn, "label.verify", value)


def _revision_of(job: dict) -> int:
    """The WMS's revision of the order a stored label job was requested for."""
    revision = (job.get("body") or {}).get("revision", 1)
    return revision if isinstance(revision, int) and revision > 0 else 1


def template_for(cfg: Any) -> LabelTemplate:
    """The label template of ``label.template``, checked against the printer's language."""
    from packgate.device.profiles import get_profile
    from packgate.station.errors import StationError

    template = get_profile(cfg["label.template"]).template
    printer = get_profile(cfg["printer.profile"]).printer
    if template is None or printer is None:
        raise StationError(f"label.template {cfg['label.template']!r} / printer.profile {cfg['printer.profile']!r}:"
                           " not a label template and a printer profile")
    problem = language_mismatch(cfg["label.template"], template, cfg["printer.profile"], printer) \
        if cfg["label.mode"] == "print" else None
    if problem:
        raise StationError(f"label.template: {problem}")
    return template
