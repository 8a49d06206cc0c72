"""Personal data sealed at rest: customer names, phones and addresses encrypted field by field (AES-256-GCM),
with the key in a file of its own, never in the database.

A record (an order from the WMS, an employee) keeps its shape: the value of each *personal* key (``PERSONAL``:
``ship_to``, ``address``, ``phone`` …, at any depth) is replaced by one token ``pgenc1:<key id>:<base64>`` (a
random 96-bit nonce, then the ciphertext of the value's JSON); everything the queries need (order id, tote,
status, lines) stays plain. ``open_record`` turns the tokens back into values; a token whose key is missing
raises ``SealError`` (never a silent ``None``).

The key file (``KeyRing.load_or_create``) is JSON ``{"format", "current", "keys": {id: base64}}``, created with
mode 0600 on first start and refused when group or others may read it. ``rotate`` adds a new current key (the
old ones stay until no row uses them: ``retire``); a ring notices a key file changed by another process (the
``packgate keys rotate`` command while the service runs) within ``RELOAD_S``, and at once when it meets a key
it does not know.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import stat
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from packgate.sync.errors import SyncError

log = logging.getLogger(__name__)
FORMAT = "packgate-keys/1"
PREFIX = "pgenc1:"
AAD = b"packgate personal data v1"
RELOAD_S = 1.0
PURGED = None  # what a personal value becomes when its retention ran out

# keys whose values are personal data, wherever they appear in a record
PERSONAL = frozenset({"ship_to", "address", "customer", "consignee", "recipient", "receiver", "buyer",
                      "phone", "mobile", "email", "ship_to_name", "ship_to_phone", "ship_to_address"})


class SealError(SyncError):
    """A key file that cannot be used, or a sealed value that cannot be opened."""


def _key_id() -> str:
    return "k" + secrets.token_hex(4)


class KeyRing:
    """The keys of one key file; ``seal``/``open`` single values, ``seal_record``/``open_record`` records."""

    def __init__(self, path: Path | None, keys: dict[str, bytes], current: str):
        self.path = path
        self.keys = dict(keys)
        self.current = current
        self._lock = threading.Lock()
        self._unopened: set[str] = set()
        self._seen_mtime = self._mtime()
        self._checked = time.monotonic()

    # ---- the key file ---------------------------------------------------------------------
    @classmethod
    def load_or_create(cls, path: str | Path) -> "KeyRing":
        """The ring of ``path``; a missing file is created (0600, one fresh key). A file group or others may read
        is refused, naming the fix."""
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            kid = _key_id()
            try:
                _write(path, kid, {kid: AESGCM.generate_key(bit_length=256)}, exclusive=True)
            except FileExistsError:
                pass  # another process created it a moment ago: read theirs
        return cls(path, *_read(path))

    @classmethod
    def ephemeral(cls) -> "KeyRing":
        """A ring that lives in memory only (an in-memory database's)."""
        kid = _key_id()
        return cls(None, {kid: AESGCM.generate_key(bit_length=256)}, kid)

    def _mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns if self.path else None
        except OSError:
            return None

    def reload(self, force: bool = False) -> None:
        """Read the key file again if it changed (at most every ``RELOAD_S`` unless ``force``)."""
        if self.path is None or (not force and time.monotonic() - self._checked < RELOAD_S):
            return
        with self._lock:
            self._checked = time.monotonic()
            mtime = self._mtime()
            if mtime is None:  # the file went away: keep the keys in memory (rows stay readable), say so
                log.error("the key file %s is missing; personal data is sealed with the keys read before", self.path)
                return
            if mtime == self._seen_mtime and not force:
                return
            self.keys, self.current = _read(self.path)
            self._seen_mtime = mtime

    def rotate(self) -> str:
        """Add a new key and make it current (written to the key file); returns its id."""
        kid = _key_id()
        with self._lock:
            self.keys[kid] = AESGCM.generate_key(bit_length=256)
            self.current = kid
            if self.path is not None:
                _write(self.path, kid, self.keys)
                self._seen_mtime = self._mtime()
        return kid

    def retire(self, keep: Iterable[str]) -> list[str]:
        """Remove every key but the current one and ``keep`` (the ids still found in use); returns the removed."""
        wanted = {self.current, *keep}
        with self._lock:
            gone = sorted(k for k in self.keys if k not in wanted)
            for kid in gone:
                del self.keys[kid]
            if gone and self.path is not None:
                _write(self.path, self.current, self.keys)
                self._seen_mtime = self._mtime()
        return gone

    # ---- values ---------------------------------------------------------------------------
    def seal(self, value: Any) -> str:
        self.reload()
        kid = self.current
        nonce = secrets.token_bytes(12)
        data = AESGCM(self.keys[kid]).encrypt(nonce, json.dumps(value, ensure_ascii=False).encode(), AAD)
        return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + data).decode()}"

    def open(self, token: str) -> Any:
        kid, _, blob = token[len(PREFIX):].partition(":")
        if kid not in self.keys:
            self.reload(force=True)
        key = self.keys.get(kid)
        if key is None:
            raise SealError(f"personal data sealed with key {kid}, which the key file {self.path} does not hold"
                            " (a key file from another install, or a key retired too early)")
        try:
            raw = base64.urlsafe_b64decode(blob.encode())
            return json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], AAD))
        except (InvalidTag, ValueError) as exc:
            raise SealError(f"a sealed value under key {kid} does not open (damaged or altered)") from exc

    def seal_bytes(self, data: bytes) -> bytes:
        """Bytes sealed as one token (ASCII), e.g. a printed label's job."""
        return self.seal(base64.b64encode(data).decode()).encode()

    def open_bytes(self, stored: bytes) -> bytes:
        """``seal_bytes`` undone; bytes that were never sealed come back as they are."""
        return base64.b64decode(self.open(stored.decode())) if stored.startswith(PREFIX.encode()) else stored

    def key_of(self, token: str) -> str:
        return token[len(PREFIX):].partition(":")[0]

    # ---- records --------------------------------------------------------------------------
    def seal_record(self, record: Any) -> Any:
        """A copy of ``record`` with every personal value sealed (already sealed ones kept as they are)."""
        return _walk(record, lambda v: v if is_sealed(v) or v is None else self.seal(v))

    def open_record(self, record: Any) -> Any:
        """A copy of ``record`` with every sealed value opened. A value that cannot be opened (a database restored
        without its key file, a damaged value) reads as None, logged once per key: the order still works."""
        if isinstance(record, str):
            return self.opened(record) if is_sealed(record) else record
        return _walk(record, lambda v: self.opened(v) if is_sealed(v) else v)

    def opened(self, token: str) -> Any:
        """``open``, or None (logged once per key id) when the value cannot be opened."""
        try:
            return self.open(token)
        except SealError as exc:
            kid = self.key_of(token)
            if kid not in self._unopened:
                self._unopened.add(kid)
                log.error("personal data unreadable: %s", exc)
            return None

    def reseal_record(self, record: Any) -> Any:
        """Every personal value sealed under the current key (plain ones sealed, older keys' ones re-sealed)."""
        return _walk(record, lambda v: v if v is None or (is_sealed(v) and self.key_of(v) == self.current)
                     else self.seal(self.open(v) if is_sealed(v) else v))


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def purge_record(record: Any) -> Any:
    """A copy of ``record`` without its personal values (retention ran out)."""
    return _walk(record, lambda v: PURGED)


def keys_used(text: str) -> set[str]:
    """The key ids of the tokens in a stored text (a JSON document or one token)."""
    found: set[str] = set()
    start = text.find(PREFIX)
    while start >= 0:
        end = text.find(":", start + len(PREFIX))
        found.add(text[start + len(PREFIX):end])
        start = text.find(PREFIX, end)
    return found


def _walk(value: Any, change: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {k: change(v) if k in PERSONAL else _walk(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    return value


def _read(path: Path) -> tuple[dict[str, bytes], str]:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SealError(f"{path} may be read by other users (mode {mode:04o}): chmod 0600, owned by the service's user")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
        keys = {str(k): base64.b64decode(v) for k, v in doc["keys"].items()}
        current = str(doc["current"])
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError("the current key is missing or a key is not 256 bits")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SealError(f"{path} is not a usable packgate key file: {exc}") from exc
    return keys, current


def _write(path: Path, current: str, keys: dict[str, bytes], exclusive: bool = False) -> None:
    """Write the key file 0600, atomically (a temporary file renamed over it), or create it (``exclusive``)."""
    doc = json.dumps({"format": FORMAT, "current": current,
                      "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}, indent=1)
    target = path if exclusive else path.with_name(path.name + f".{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(target, flags, 0o600)
    try:
        os.write(fd, doc.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if not exclusive:
        os.replace(target, path)


def rotate(ring: KeyRing, reseal: Callable[[KeyRing], int], in_use: Callable[[], set[str]],
           settle_s: float = 2 * RELOAD_S) -> dict[str, Any]:
    """``packgate keys rotate``: a new current key; after ``settle_s`` (a running service has read the key file
    again) every row is re-sealed with it, then the keys no row uses any more are retired from the file."""
    before = ring.current
    new = ring.rotate()
    time.sleep(settle_s)
    rows = reseal(ring)
    retired = ring.retire(in_use())
    return {"previous": before, "current": new, "rows": rows, "retired": retired, "key_file": str(ring.path)}


def rotation_report(done: dict[str, Any], as_json: bool) -> str:
    """What ``keys rotate`` prints (station and hub alike): JSON, or one line in each language."""
    if as_json:
        return json.dumps({"ok": True, **done}, indent=2)
    retired = ", ".join(done["retired"])
    return (f"new key {done['current']} in {done['key_file']}: {done['rows']} row(s) re-sealed; retired: "
            f"{retired or 'none'}\n"
            f"新密钥{done['current']}（{done['key_file']}）：已重新加密{done['rows']}行；已停用：{retired or '无'}")


# ---- one ring per key file, per process --------------------------------------------------------
_RINGS: dict[str, KeyRing] = {}
_PLACES: dict[str, str] = {}  # database file -> its key file, when configured
_LOCK = threading.Lock()
KEY_FILE_NAME = "personal-data.key"


def default_key_file(db_path: str | Path) -> Path:
    return Path(db_path).resolve().parent / KEY_FILE_NAME


def place_key(db_path: str | Path, key_file: str | Path) -> None:
    """The key file of ``db_path`` is ``key_file`` (the ``privacy.key_file`` setting), not the default."""
    with _LOCK:
        _PLACES[str(Path(db_path).resolve())] = str(Path(key_file).resolve())


def ring_for(db_path: str | Path | None) -> KeyRing:
    """The ring of a database file (created on first use); an in-memory database gets an ephemeral one."""
    if not db_path or str(db_path) == ":memory:":
        with _LOCK:
            return _RINGS.setdefault(":memory:", KeyRing.ephemeral())
    resolved = str(Path(db_path).resolve())
    with _LOCK:
        key_file = _PLACES.get(resolved, str(default_key_file(resolved)))
        ring = _RINGS.get(key_file)
        if ring is None:
            ring = _RINGS[key_file] = KeyRing.load_or_create(key_file)
        return ring


def ring_of(conn: Any) -> KeyRing:
    """The ring of the SQLite database ``conn`` is open on."""
    row = conn.execute("PRAGMA database_list").fetchone()
    return ring_for(row[2] if row else None)


__all__ = ["KeyRing", "rotate", "PERSONAL", "PREFIX", "SealError", "default_key_file", "is_sealed", "keys_used", "place_key",
           "purge_record", "ring_for", "ring_of"]
