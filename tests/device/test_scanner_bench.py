"""Smoke test of the scanner/camera benchmark section (tiny sample counts)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "bench_device_inputs", Path(__file__).resolve().parents[2] / "scripts" / "bench_device_inputs.py")
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_scan_latency_row():
    row = bench.bench_scan_latency(20, "CR")
    assert row["n"] == 20 and "missed" not in row["note"] and float(row["p99_ms"]) < 500


def test_camera_rows_shape():
    rows = bench.bench_camera(frames=1, size=(640, 480))
    assert {r["backend"] for r in rows} == {"zxing-cpp", "pyzbar"}
    dm = [r for r in rows if r["symbology"].startswith("DataMatrix") and r["backend"] == "pyzbar"]
    assert any(r["p50_ms"] == "n/a" for r in dm)
    assert all(r["note"] == "decoded 1/1" for r in rows if r["backend"] == "zxing-cpp")
    assert set(rows[0]) == set(bench.COLUMNS)
