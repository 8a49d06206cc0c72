"""What the station needs from the layers around it, as types: delivery, notifications, the camera and the site hub."""
from __future__ import annotations

import sqlite3
from typing import Any, Protocol


class Outbox(Protocol):
    """Confirmations committed with the station's state change (``packgate.sync.outbox.Outbox``)."""

    def enqueue(self, conn: sqlite3.Connection, *, action: str, object_type: str, object_id: str,
                operator: str | None, device: str | None, location: str, payload: dict[str, Any] | None = None,
                image_sha256: str | None = None) -> dict: ...

    def status(self, conn: sqlite3.Connection | None = None) -> dict: ...


class Notifier(Protocol):
    """Supervisor notifications (``packgate.sync.common.notify.Notifier``)."""

    def send(self, title: str, body: str, context: dict | None = None) -> tuple[bool, str | None]: ...


class Camera(Protocol):
    """A photo of the packed parcel (``packgate.device.camera.reader.CameraScanner``)."""

    def snapshot_sha256(self) -> str | None: ...


class SiteHub(Protocol):
    """The site hub (``packgate.sync.hub_client.SiteClient``): claims and heartbeats (``claim`` and ``renew`` raise
    ``ClaimConflictError`` when another table holds the order, or a supervisor released it from this one), the site's
    escalations and the site's dock."""

    def claim(self, order_id: str, operator: str | None) -> dict[str, Any]: ...

    def renew(self, order_id: str, operator: str | None) -> dict[str, Any]: ...

    def release(self, order_id: str) -> bool: ...

    def heartbeat(self, *, operator: str | None = None, order_id: str | None = None, state: str | None = None,
                  devices: dict[str, str] | None = None, outbox_depth: int | None = None,
                  clock: str | None = None, outbox_dead: int | None = None,
                  version: str | None = None) -> list[dict[str, Any]]: ...

    @property
    def last_clock(self) -> dict[str, Any] | None:
        """The hub's measure of this station's clock at the last heartbeat that sent it: offset_s, warning."""
        ...

    def escalations(self) -> list[dict[str, Any]]: ...

    def acknowledge(self, order_id: str, level: int, by: str) -> dict[str, Any] | None: ...

    def conflicts(self) -> list[dict[str, Any]]: ...

    def resolve_conflict(self, n: int, by: str, note: str) -> dict[str, Any] | None: ...

    def hold_parcel(self, batch_id: str, code: str, operator: str | None) -> dict[str, Any] | None: ...

    def give_back(self, order_id: str, batch_id: str) -> bool: ...

    def weights(self, known: int = -1) -> dict[str, Any]: ...

    def put_figures(self, learned: dict[str, Any], review: dict[str, Any]) -> int: ...

    def decide_weight(self, decision: dict[str, Any], prev: int, evidence: dict[str, Any] | None) -> dict[str, Any]: ...


class LabelUpstream(Protocol):
    """The label contract of the upstream or the site hub (``packgate.sync.client.UpstreamClient``)."""

    def request_label(self, body: dict[str, Any]) -> dict: ...

    def reserve_waybills(self, body: dict[str, Any]) -> dict: ...


class PrinterState(Protocol):
    """A printer's decoded status (``packgate.device.printer.status.PrinterStatus``)."""

    @property
    def ready(self) -> bool: ...

    @property
    def problems(self) -> tuple[str, ...]: ...

    @property
    def notices(self) -> tuple[str, ...]: ...

    def describe(self) -> str: ...


class LabelPrinter(Protocol):
    """The table's label printer (``packgate.station.labels.StationPrinter`` over ``device.printer.Printer``)."""

    def status(self, detail: bool | None = None) -> PrinterState: ...

    def print(self, job: bytes) -> PrinterState: ...
