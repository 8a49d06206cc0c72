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
    """The site hub's claims and heartbeats (``packgate.sync.hub_client.SiteClient``); ``claim`` raises
    ``ClaimConflictError`` when another table holds the order."""

    def claim(self, order_id: str, operator: str | None) -> dict[str, Any]: ...

    def release(self, order_id: str) -> bool: ...

    def heartbeat(self, *, operator: str | None = None, order_id: str | None = None, state: str | None = None,
                  devices: dict[str, str] | None = None, outbox_depth: int | None = None,
                  clock: str | None = None) -> dict[str, Any]: ...


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

    def describe(self) -> str: ...


class LabelPrinter(Protocol):
    """The table's label printer (``packgate.station.labels.StationPrinter`` over ``device.printer.Printer``)."""

    def status(self) -> PrinterState: ...

    def print(self, job: bytes) -> PrinterState: ...
