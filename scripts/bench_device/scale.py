"""Scale section: frames decoded per second per profile (framer + parser + reader bookkeeping, no I/O)."""
from __future__ import annotations

import time
from decimal import Decimal

TITLE = "Scale frames decoded per second (framer + parser, in memory)"
COLUMNS = ["profile", "parser", "frame_bytes", "frames", "seconds", "frames_per_s"]


def run(args) -> list[dict]:
    from packgate.device.profiles import load_profiles
    from packgate.device.scale.parsers.common import EmuState
    from packgate.device.scale.reader import ScaleReader

    rows = []
    for name, profile in sorted(load_profiles(kind="scale").items()):
        spec = profile.emulator
        frames = [profile.codec.encode(EmuState(Decimal(i % 5000).scaleb(-spec.decimals), spec.unit, spec.decimals,
                                                "ok" if i % 4 else "motion")) for i in range(200)]
        blob = b"".join(frames)
        reader = ScaleReader("loop://", profile)
        n, t0 = 0, time.perf_counter()
        deadline = t0 + args.seconds
        while True:
            for start in range(0, len(blob), 512):  # realistic read sizes
                reader.feed(blob[start:start + 512])
            n += len(frames)
            if time.perf_counter() >= deadline:
                break
        elapsed = time.perf_counter() - t0
        assert reader.frames_bad == 0, (name, reader.stats())
        rows.append({"profile": name, "parser": profile.parser_kind, "frame_bytes": len(frames[1]), "frames": n,
                     "seconds": round(elapsed, 2), "frames_per_s": int(n / elapsed)})
    return rows
