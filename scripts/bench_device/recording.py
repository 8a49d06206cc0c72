"""Scan -> verdict latency at a packing table with the camera filming, with and without the packing video.

The real station (demo rig: scanner on a pty, camera = CameraScanner playing a generated 1280x720 scene at
15 fps in a loop and decoding every frame) has an order open; each sample writes an item code into the
scanner's pty and waits for the verdict on the station's event bus (the kiosk's path). Both cases film and
decode; only the recording (overlay, VP8 encoding in its own thread) differs.
"""
from __future__ import annotations

import queue
import statistics
import tempfile
import time
from pathlib import Path

TITLE = "Scan -> verdict latency, packing video off / on"
COLUMNS = ["case", "codec", "n", "p50_ms", "p99_ms", "mean_ms", "p50_ms_vs_off", "mean_ms_vs_off", "clip_frames",
           "dropped"]
ORDER = "SO-10009"


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _case(root: Path, source: Path, recording: bool, n: int, gap_s: float) -> dict:
    from packgate.station.demo.rig import build_rig
    from packgate.sync.upstream import demo_data

    rig = build_rig(port=0, upstream_port=0, data_dir=str(root / ("on" if recording else "off")),
                    overrides={"camera.enabled": True, "camera.source": str(source), "camera.playback": "loop",
                               "video.enabled": recording})
    try:
        station = rig.agent.station
        events = station.bus.subscribe()

        def verdict_after(seq: int, timeout: float = 5.0) -> None:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                try:
                    kind, data = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if kind == "state" and (data.get("verdict") or {}).get("seq", 0) > seq:
                    return
            raise TimeoutError("no verdict")

        rig.devices.tap(demo_data.DEMO_BADGES["packer"])
        deadline = time.monotonic() + 5
        while station.pack.operator is None and time.monotonic() < deadline:
            time.sleep(0.02)
        seq = station.live.verdict_seq
        rig.scanner.scan(ORDER)
        verdict_after(seq)
        time.sleep(0.5)  # the camera is filming (and, with the video on, recording) the open order
        code = rig.world.item_code("SKU-001")  # not in the order: a verdict every time, the session unchanged
        samples = []
        for _ in range(n):
            seq = station.live.verdict_seq
            t0 = time.perf_counter()
            rig.scanner.scan(code)
            verdict_after(seq)
            samples.append(time.perf_counter() - t0)
            time.sleep(gap_s)
        status = station.video.status()
        return {"case": "recording" if recording else "no recording", "codec": status["codec"] or "-",
                "samples": samples, "clip_frames": status["frames"], "dropped": status["dropped"]}
    finally:
        rig.stop()


def _row(runs: list[dict]) -> dict:
    ms = [s * 1000 for r in runs for s in r["samples"]]
    return {"case": runs[0]["case"], "codec": runs[0]["codec"], "n": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(_pct(ms, 0.99), 2), "mean_ms": round(statistics.fmean(ms), 2),
            "clip_frames": sum(r["clip_frames"] for r in runs), "dropped": sum(r["dropped"] for r in runs)}


def collect(n: int = 200, gap_s: float = 0.03, rounds: int = 2) -> list[dict]:
    """``rounds`` alternating off/on runs of ``n`` scans each (alternating evens out a busy machine)."""
    from packgate.device.camera.emulator import table_scene, write_video

    runs: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="packgate-bench-video-") as tmp:
        root = Path(tmp)
        source = write_video(root / "table.avi", table_scene(30, (1280, 720), step=20), fps=15)
        for i in range(rounds):
            for recording in (False, True):
                runs[recording].append(_case(root / str(i), source, recording, n, gap_s))
    off, on = _row(runs[False]), _row(runs[True])
    for key in ("p50_ms", "mean_ms"):
        on[key + "_vs_off"] = f"{(on[key] / off[key] - 1) * 100:+.0f} %"
        off[key + "_vs_off"] = "-"
    return [off, on]


def run(args) -> list[dict]:
    seconds = getattr(args, "seconds", 0.5) or 0.5
    return collect(n=max(50, int(400 * seconds)))
