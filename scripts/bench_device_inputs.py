"""Scanner and camera section of the device benchmark.

* scan latency: last byte written into a scanner pty -> interpreted ``Scan`` delivered by the real
  ``SerialScanner`` thread (p50/p99 over N scans), for CR-terminated and silence-terminated scans;
* keyboard-wedge decode: evdev key events -> ``Scan`` (CPU only);
* camera decode time on 1280x720 frames, zxing-cpp vs pyzbar, per symbology, zxing with all
  formats vs restricted formats vs restricted + no rotate/downscale/invert.

Two interfaces: ``HEADER`` + ``run() -> list[tuple[str, ...]]`` (plain rows), and ``TITLE``,
``COLUMNS``, ``run_section(args) -> list[dict]`` for scripts/bench-device's section loader.
Standalone: ``.venv/bin/python scripts/bench_device_inputs.py [--scans 500] [--frames 30]``.
"""
from __future__ import annotations

import statistics
import sys
import threading
import time

TITLE = "Scanner latency and camera decode time"
COLUMNS = ["bench", "case", "backend", "symbology", "n", "p50_ms", "p99_ms", "mean_ms", "note"]
HEADER = tuple(COLUMNS)

GS = "\x1d"
SCAN_TEXT = "010703206980498810ABC123" + GS + "17260228"
CAMERA_CODES = [
    ("EAN-13", ("ean13", "4006381333931"), "ean13"),
    ("Code128 (GS1-128)", ("code128", "(01)07032069804988(10)ABC123(17)260228", True), "code128"),
    ("QR", ("qr", "SO-10001"), "qr"),
    ("DataMatrix (GS1)", ("datamatrix", "(01)07032069804988(17)260200(10)LOT42(21)S1", True), "datamatrix"),
]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _row(bench, case, backend, symbology, samples_s, note="") -> dict:
    ms = [s * 1000 for s in samples_s]
    return {"bench": bench, "case": case, "backend": backend, "symbology": symbology, "n": len(ms),
            "p50_ms": f"{_pct(ms, 0.5):.3f}", "p99_ms": f"{_pct(ms, 0.99):.3f}",
            "mean_ms": f"{statistics.fmean(ms):.3f}", "note": note}


def bench_scan_latency(n: int = 500, suffix: str = "CR", inter_char_timeout: float = 0.02) -> dict:
    from packgate.device.scanner.emulator import ScannerEmulator
    from packgate.device.scanner.serial import SerialScanner

    got = threading.Event()
    arrived: list[float] = []

    def on_scan(scan) -> None:
        arrived.append(time.perf_counter())
        got.set()

    with ScannerEmulator() as emu:
        reader = SerialScanner(emu.path, suffix=suffix, on_scan=on_scan, inter_char_timeout=inter_char_timeout)
        reader.start()
        deadline = time.monotonic() + 3
        while reader.state != "connected" and time.monotonic() < deadline:
            time.sleep(0.005)
        samples, bad = [], 0
        try:
            for _ in range(n):
                got.clear()
                emu.scan(SCAN_TEXT, symbology="]C1", suffix=suffix)
                t_write = time.perf_counter()  # the write of the last byte has returned
                if not got.wait(2):
                    bad += 1
                    continue
                samples.append(arrived[-1] - t_write)
                if reader.latest.kind != "gs1":
                    bad += 1
        finally:
            reader.stop()
    note = f"pty, GS1-128 with ]C1, {len(SCAN_TEXT) + 4} bytes"
    if suffix == "none":
        note += f", inter-char timeout {inter_char_timeout * 1000:g} ms"
    if bad:
        note += f", {bad} missed/wrong"
    return _row("scan latency", f"serial suffix {suffix}", "SerialScanner", "]C1", samples, note)


def bench_wedge_decode(n: int = 500) -> dict:
    from packgate.device.keyboard.emulator import keystrokes
    from packgate.device.keyboard.hid import HidScanner

    events = keystrokes("]C1" + SCAN_TEXT, "de")
    scans = []
    reader = HidScanner("bench", scans.append, layout="de")
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        reader.handle_events(events)
        samples.append(time.perf_counter() - t0)
    assert all(s.kind == "gs1" for s in scans)
    return _row("wedge decode", "evdev events -> Scan (DE layout)", "KeyDecoder", "]C1", samples,
                f"{len(events)} events per scan, CPU only")


def bench_camera(frames: int = 30, size=(1280, 720)) -> list[dict]:
    from packgate.device.camera.decoders import PyzbarDecoder, ZxingDecoder
    from packgate.device.camera.emulator import render_frame

    rows = []
    for label, code, fmt in CAMERA_CODES:
        frame = render_frame([code], size, noise=6.0)
        variants = [
            ("zxing-cpp", "all formats", ZxingDecoder()),
            ("zxing-cpp", f"only {fmt}", ZxingDecoder([fmt])),
            ("zxing-cpp", f"only {fmt}, fast", ZxingDecoder([fmt], fast=True)),
            ("pyzbar", "all formats", PyzbarDecoder()),
        ]
        if PyzbarDecoder().supports(fmt):
            variants.append(("pyzbar", f"only {fmt}", PyzbarDecoder([fmt])))
        else:
            rows.append({"bench": "camera decode", "case": f"{size[0]}x{size[1]}", "backend": "pyzbar",
                         "symbology": label, "n": 0, "p50_ms": "n/a", "p99_ms": "n/a", "mean_ms": "n/a",
                         "note": "pyzbar has no Data Matrix"})
        for backend, case, dec in variants:
            dec.decode(frame)  # warm-up
            samples, found = [], 0
            for _ in range(frames):
                t0 = time.perf_counter()
                out = dec.decode(frame)
                samples.append(time.perf_counter() - t0)
                found += bool(out)
            note = f"decoded {found}/{frames}"
            rows.append(_row("camera decode", f"{size[0]}x{size[1]} {case}", backend, label, samples, note))
    return rows


def collect(scans: int = 500, frames: int = 30) -> list[dict]:
    return [
        bench_scan_latency(scans, "CR"),
        bench_scan_latency(max(50, scans // 5), "none", 0.02),
        bench_wedge_decode(scans),
        *bench_camera(frames),
    ]


def run(scans: int = 500, frames: int = 30) -> list[tuple[str, ...]]:
    """Rows as tuples of strings in ``HEADER`` order (the header itself is not included)."""
    return [tuple(str(r[c]) for c in COLUMNS) for r in collect(scans, frames)]


def run_section(args) -> list[dict]:
    """For scripts/bench-device: ``--seconds`` scales the sample counts (0.5 s -> 500 scans, 30 frames)."""
    seconds = getattr(args, "seconds", 0.5) or 0.5
    return collect(scans=max(50, int(1000 * seconds)), frames=max(10, int(60 * seconds)))


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=TITLE)
    ap.add_argument("--scans", type=int, default=500)
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args(argv)
    rows = run(args.scans, args.frames)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    for r in [HEADER, tuple("-" * w for w in widths), *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
