"""Cut a byte stream into frames by the profile's framing, re-synchronising after garbage.

Never frames on read() boundaries. Rules, from ``FramingSpec``:
  * ``start``: bytes before it are skipped (counted in ``bytes_skipped``); with ``resync_on_start`` a start
    byte seen inside a frame body abandons the partial frame and starts again there;
  * ``end`` (+ ``trailer`` bytes, e.g. a checksum) closes a frame; without ``end`` the frame has ``length`` bytes;
  * ``length`` (with a ``start``) is enforced: a frame of another length means we were out of sync;
  * ``max_length`` bounds the buffer: a frame that never ends is dropped;
  * ``literal_after``: a start or end byte directly after this byte is data (Toledo 8217 terminals that send
    the status after ``?`` as raw bits: over capacity is 0x02 = STX, motion+under zero+zero error 0x0D = CR);
  * ``until_next_start``: no terminator and several lengths (Yaohua "=" with or without a sign): a frame is
    complete when the next start byte arrives.
With ``mask_7bit`` every byte is ANDed with 0x7F first (7-bit protocols read as 8N1, or parity bit set).
"""
from __future__ import annotations

from packgate.device.profiles import FramingSpec

_MASK7 = bytes(b & 0x7F for b in range(256))


class ScaleFramer:
    def __init__(self, spec: FramingSpec, mask_7bit: bool = False):
        self.spec = spec
        self.mask_7bit = mask_7bit
        self.buf = bytearray()
        self.bytes_skipped = 0

    def reset(self) -> None:
        self.buf.clear()

    def _skip(self, n: int) -> None:
        n = min(n, len(self.buf))
        del self.buf[:n]
        self.bytes_skipped += n

    def feed(self, data: bytes) -> list[bytes]:
        if self.mask_7bit:
            data = bytes(data).translate(_MASK7)
        self.buf += data
        frames: list[bytes] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _find_start(self, begin: int, stop: int) -> int:
        """The next start sequence in buf[begin:stop] that is not data after ``literal_after``."""
        sp, buf = self.spec, self.buf
        while True:
            k = buf.find(sp.start, begin, stop)
            if k < 0 or not sp.literal_after or buf[k - len(sp.literal_after):k] != sp.literal_after:
                return k
            begin = k + 1

    def _next(self) -> bytes | None:
        sp, buf = self.spec, self.buf
        start, end = sp.start, sp.end
        while True:
            if start:
                i = buf.find(start)
                if i < 0:
                    keep = len(start) - 1  # a start sequence may be split across reads
                    if len(buf) > keep:
                        self._skip(len(buf) - keep)
                    return None
                if i:
                    self._skip(i)
            body = len(start)
            if sp.until_next_start:
                k = self._find_start(body, len(buf))
                if k < 0:
                    if len(buf) >= sp.max_length:
                        self._skip(len(buf))
                    return None
                frame = bytes(buf[:k])
                del buf[:k]
                return frame
            if end:
                j = buf.find(end, body)
                la = sp.literal_after
                while la and j >= 0 and buf[j - len(la):j] == la:
                    j = buf.find(end, j + 1)
                if start and sp.resync_on_start:
                    k = self._find_start(body, j if j >= 0 else len(buf))
                    if k >= 0:
                        self._skip(k)
                        continue
                if j < 0:
                    if len(buf) >= sp.max_length:
                        self._skip(len(start) if start else len(buf) - (len(end) - 1))
                        continue
                    return None
                total = j + len(end) + sp.trailer
                if total > sp.max_length or (start and sp.length and total != sp.length):
                    self._skip(len(start) if start else total)
                    continue
                if len(buf) < total:
                    return None
            else:
                total = sp.length
                if start and sp.resync_on_start:
                    k = buf.find(start, body, total)
                    if k >= 0:
                        self._skip(k)
                        continue
                if len(buf) < total:
                    return None
            frame = bytes(buf[:total])
            del buf[:total]
            return frame
