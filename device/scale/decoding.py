"""Bytes to readings for one scale profile, with the profile's stability rule: what ``ScaleReader`` does with a
port's bytes and what ``packgate device decode`` does with a capture, so both say the same of the same bytes.

    decoder = ScaleDecoder(profile)
    for reading in decoder.decode(data): ...   # every frame in order: acknowledgements and bad frames too

Invariants: frames are cut by the profile's framing (never by read() boundaries); a frame's stability comes from
its flag, or with ``stability.mode = "repeat"`` from N equal consecutive weights (``StabilityTracker``); a
"same weight as last time" frame (Toledo ``?`` with no flag, ``extra["repeat"]``) repeats the last weight read.
Acknowledgements (``extra["ack"]``) and bad frames (``extra["bad_frame"]``) are counted, passed through
unchanged, and never touch the stability count or the last weight.
"""
from __future__ import annotations

import dataclasses

from packgate.device.profiles import Profile
from packgate.device.scale.framing import ScaleFramer
from packgate.device.scale.reading import Reading, Status


class StabilityTracker:
    """N equal consecutive weights => stable (for protocols without a flag, or as a fallback)."""

    def __init__(self, repeat: int, promote_motion: bool = False):
        self.repeat = repeat
        self.promote_motion = promote_motion
        self._last: tuple | None = None
        self._count = 0

    def apply(self, reading: Reading) -> Reading:
        key = (reading.weight, reading.unit) if reading.weight is not None else None
        if key is None or reading.status not in (Status.OK, Status.MOTION):
            self._last, self._count = None, 0
            return reading
        self._count = self._count + 1 if key == self._last else 1
        self._last = key
        candidate = (reading.status is Status.OK and not reading.stable) or (
            self.promote_motion and reading.status is Status.MOTION)
        if candidate and self._count >= self.repeat:
            return dataclasses.replace(reading, status=Status.OK, stable=True,
                                       extra={**reading.extra, "stability": f"inferred:{self._count}"})
        return reading


class ScaleDecoder:
    def __init__(self, profile: Profile):
        if profile.kind != "scale" or profile.codec is None or profile.framing is None or profile.serial is None \
                or profile.stability is None:
            raise ValueError(f"profile {profile.name!r} is not a scale profile")
        self.profile = profile
        self.codec = profile.codec
        self.framer = ScaleFramer(profile.framing, mask_7bit=profile.serial.seven_bit)
        st = profile.stability
        self.stability = StabilityTracker(st.repeat, st.promote_motion) \
            if (st.mode == "repeat" or st.promote_motion) else None
        self.latest: Reading | None = None
        self.frames_ok = 0
        self.frames_bad = 0
        self.frames_ack = 0

    @property
    def bytes_skipped(self) -> int:
        return self.framer.bytes_skipped

    def decode(self, data: bytes) -> list[Reading]:
        out = []
        for frame in self.framer.feed(data):
            reading = self.codec.decode(frame)
            if reading.extra.get("ack"):
                self.frames_ack += 1
            elif reading.extra.get("bad_frame"):
                self.frames_bad += 1
            else:
                self.frames_ok += 1
                reading = self._settle(reading)
                self.latest = reading
            out.append(reading)
        return out

    def _settle(self, reading: Reading) -> Reading:
        if reading.extra.get("repeat") and self.latest is not None and self.latest.weight is not None:
            reading = dataclasses.replace(self.latest, raw=reading.raw, extra={**self.latest.extra, "repeat": True})
        return self.stability.apply(reading) if self.stability is not None else reading
