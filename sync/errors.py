"""The one exception tree of the sync package.

``SyncError`` is the root. Storage errors also derive from ``sqlite3.OperationalError`` so
callers that already catch sqlite errors keep working; the point of the subclasses is a clear
message and a type the UI can map to "not saved" (never a false "done").
"""
from __future__ import annotations

import sqlite3


class SyncError(Exception):
    """Base of every error raised by the sync package."""


# --- local storage -------------------------------------------------------------------------
class StorageError(SyncError, sqlite3.OperationalError):
    """The local database could not durably store the change; nothing was committed."""


class StorageFullError(StorageError):
    """SQLITE_FULL: the disk (or PRAGMA max_page_count) is full."""


class ReadOnlyStorageError(StorageError):
    """SQLITE_READONLY: the database file or file system is read-only."""


class StorageIOError(StorageError):
    """SQLITE_IOERR / SQLITE_CORRUPT: the storage failed underneath SQLite."""


class SchemaFromTheFutureError(SyncError):
    """The database was written by a newer packgate: a set of its schema steps (``sync.common.migrate``) is at a
    version this code does not have (``known`` 0: a set it does not know at all). Nothing was written."""

    def __init__(self, path: str, owner: str, found: int, known: int):
        super().__init__(f"{path} was written by a newer packgate: its {owner} schema is at version {found}, "
                         f"this packgate knows up to version {known}")
        self.path, self.owner, self.found, self.known = path, owner, found, known


# --- outbox --------------------------------------------------------------------------------
class OutboxError(SyncError):
    """Misuse of the outbox (the message says what to do instead)."""


class NotInTransactionError(OutboxError):
    """``Outbox.enqueue`` was called outside a write transaction."""


class IdempotencyConflictError(OutboxError):
    """An idempotency key was reused with a different confirmation."""


class InvalidConfirmationIdError(OutboxError, ValueError):
    """A confirmation id is malformed or its check character is wrong."""


# --- upstream ------------------------------------------------------------------------------
class UpstreamError(SyncError):
    """Talking to upstream failed."""

    retryable = True


class TransientUpstreamError(UpstreamError):
    """Worth retrying with the same key: network trouble, deadline, 408/429/5xx, bad body."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class DeadlineExceededError(TransientUpstreamError):
    """The whole request (connect + send + headers + body) did not finish before its deadline."""


class BadResponseError(TransientUpstreamError):
    """Truncated, garbled or inconsistent response; the request may or may not have taken effect."""


class RequestCancelledError(TransientUpstreamError):
    """The caller cancelled the request (a loop stopping); it may or may not have taken effect."""


class PermanentUpstreamError(UpstreamError):
    """Upstream refused the request (400/401/403/404/422 …): retrying unchanged will not help."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class UnsupportedByUpstreamError(UpstreamError):
    """Upstream does not offer this optional call (404/405/501 on it): the caller uses the plain one instead."""

    retryable = False


# --- site hub ------------------------------------------------------------------------------
class HubError(SyncError):
    """The site hub (packgate.sync.hub) could not do what was asked."""


class HubConfigError(HubError):
    """site.toml is unreadable or a key has a bad value (the message names the key)."""


class HubRequestError(HubError):
    """A request to the hub is malformed; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class ClaimConflictError(HubError):
    """The order is claimed by another table; the message names the table and the person."""

    def __init__(self, message: str, claim: dict):
        super().__init__(message)
        self.claim = claim
