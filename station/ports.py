"""What the station needs from the layers around it, as types: delivery, notifications and the camera."""
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
    """Supervisor notifications (``packgate.station.runtime.notify.Notifier``)."""

    def send(self, title: str, body: str, context: dict | None = None) -> tuple[bool, str | None]: ...


class Camera(Protocol):
    """A photo of the packed parcel (``packgate.device.camera.CameraScanner``)."""

    def snapshot_sha256(self) -> str | None: ...
