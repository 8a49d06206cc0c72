"""A pseudo-terminal pair for emulators: readers open ``path`` like a real tty.

    pair = PtyPair()                      # or PtyPair(link="/tmp/scale0") for a stable path
    reader opens pair.path (a /dev/pts/N, or the symlink)
    emulator: pair.write(b"..."), pair.read(timeout=0.1), pair.master_fd
    pair.close()                          # "unplug": the reader's next read fails (EIO)

``link`` gives "the same path comes back": a new ``PtyPair(link=same)`` after
``close()`` re-points the symlink at a fresh pty, like a USB adapter replugged.
The master is non-blocking: when nobody reads the slave and its buffer is
full, writes are dropped (counted in ``dropped``), like bytes on a wire with
nobody listening. Ptys carry 8 bits and ignore parity; see device.transport.
"""
from __future__ import annotations

import errno
import os
import select
import tty
from pathlib import Path


class PtyPair:
    def __init__(self, link: str | os.PathLike | None = None):
        self.master_fd, self._slave_fd = os.openpty()
        tty.setraw(self._slave_fd)  # no echo, no CR/LF translation before the reader configures it
        tty.setraw(self.master_fd)
        os.set_blocking(self.master_fd, False)
        self.slave_path = os.ttyname(self._slave_fd)
        self.link = Path(link) if link is not None else None
        self.dropped = 0
        self.closed = False
        if self.link is not None:
            tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link)

    @property
    def path(self) -> str:
        """What a reader opens: the symlink if one was asked for, else the slave device."""
        return str(self.link) if self.link is not None else self.slave_path

    def write(self, data: bytes) -> int:
        """Write to the master (device -> host); returns bytes written, drops what does not fit."""
        if self.closed:
            return 0
        view = memoryview(bytes(data))
        written = 0
        while written < len(view):
            try:
                n = os.write(self.master_fd, view[written:])
            except BlockingIOError:
                self.dropped += len(view) - written
                break
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EBADF):
                    break
                raise
            written += n
        return written

    def read(self, size: int = 4096, timeout: float | None = 0.1) -> bytes:
        """Read what the host sent (host -> device), waiting up to ``timeout``; b"" if nothing."""
        if self.closed:
            return b""
        ready, _, _ = select.select([self.master_fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master_fd, size)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EBADF):
                return b""
            raise

    def close(self, unlink: bool = True) -> None:
        """Close both ends ("unplug"); remove the symlink if we made one and it still points here."""
        if self.closed:
            return
        self.closed = True
        for fd in (self.master_fd, self._slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if unlink and self.link is not None:
            try:
                if os.readlink(self.link) == self.slave_path:
                    self.link.unlink()
            except OSError:
                pass

    def __enter__(self) -> "PtyPair":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
