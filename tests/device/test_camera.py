"""Camera reading: the real CameraScanner on generated videos (MJPG and PNG sequence)."""
from __future__ import annotations

import hashlib
import time
from datetime import date

import numpy as np
import pytest

from packgate.device.camera.decoders import PyzbarDecoder, ZxingDecoder, make_decoder
from packgate.device.camera.emulator import render_frame, write_png_sequence, write_video
from packgate.device.camera.reader import CameraScanner, Dedupe, parse_source, save_snapshot
from packgate.device.errors import ProfileError, ReaderError

EAN = ("ean13", "4006381333931")
GS1_128 = ("code128", "(01)07032069804988(10)ABC123(17)260228", True)
QR = ("qr", "SO-10001")
GS1_DM = ("datamatrix", "(01)07032069804988(17)260200(10)LOT42(21)S1", True)
SIZE = (640, 480)


@pytest.fixture(scope="module")
def frames():
    blank = render_frame([], SIZE)
    out = []
    for code in (EAN, GS1_128, QR, GS1_DM):
        out += [render_frame([code], SIZE)] * 3 + [blank]
    return out


@pytest.fixture(scope="module")
def video(tmp_path_factory, frames):
    return write_video(tmp_path_factory.mktemp("cam") / "codes.avi", frames, fps=10)


def run_camera(source, **kw):
    got, states = [], []
    cam = CameraScanner(str(source), got.append, on_state=lambda s, d: states.append(s), **kw)
    cam.start()
    assert cam.wait(10), "a video file must end by itself"
    return cam, got, states


def test_zxing_reads_every_symbology_once_from_mjpg(video):
    cam, got, states = run_camera(video)
    assert states == ["connected", "ended", "stopped"] and cam.frames == 16
    assert [(s.kind, s.symbology) for s in got] == [("gtin", "]E0"), ("gs1", "]C1"), ("order", "]Q1"), ("gs1", "]d2")]
    ean, gs1, qr, dm = got
    assert ean.gtin == "04006381333931"
    assert gs1.lot == "ABC123" and gs1.expiry == date(2026, 2, 28) and "\x1d" in gs1.raw
    assert qr.value == "SO-10001"
    assert dm.lot == "LOT42" and dm.serial == "S1" and dm.expiry == date(2026, 2, 28)
    assert all(s.source == f"camera:{video}" for s in got)


def test_pyzbar_backend_same_interface_no_datamatrix(video):
    _, got, _ = run_camera(video, decoder="pyzbar")
    assert [s.kind for s in got] == ["gtin", "gs1", "order"]  # GS1-128 found by the no-identifier rules
    assert got[1].symbology == "]C1" and got[1].lot == "ABC123"  # pyzbar's Code 128 given the identifier zxing reports


def test_png_sequence_source(tmp_path, frames):
    pattern = write_png_sequence(tmp_path / "seq", frames[:8])
    _, got, _ = run_camera(pattern, formats=["ean13", "code128"], fast=True)
    assert [s.kind for s in got] == ["gtin", "gs1"]


def test_dedupe_window_in_video_time(tmp_path):
    a, blank = render_frame([QR], SIZE), render_frame([], SIZE)
    frames = [a] * 3 + [blank] * 2 + [a] * 2 + [blank] * 12 + [a] * 2  # 0.2 s gap, then 1.2 s gap
    path = write_video(tmp_path / "dedupe.avi", frames, fps=10)
    _, got, _ = run_camera(path, dedupe_s=1.0, formats=["qr"])
    assert [s.value for s in got] == ["SO-10001", "SO-10001"]


def test_dedupe_unit():
    d = Dedupe(1.0)
    assert d.first_sighting(("]Q1", "x"), 0.0)
    assert not d.first_sighting(("]Q1", "x"), 0.9)
    assert not d.first_sighting(("]Q1", "x"), 1.8)  # still in view: the window slides
    assert d.first_sighting(("]Q1", "y"), 1.8)
    assert d.first_sighting(("]Q1", "x"), 3.0)


def test_snapshot_sha256(tmp_path, frames):
    cam = CameraScanner("unused.avi")
    with pytest.raises(ReaderError, match="no frame"):
        cam.snapshot(tmp_path)
    cam.process_frame(frames[0], 0.0)
    snap = cam.snapshot(tmp_path / "snaps")
    data = snap.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == snap.sha256 and snap.path.name == snap.sha256 + ".jpg"
    cam2 = CameraScanner("unused.avi", snapshot_dir=tmp_path / "default")
    cam2.process_frame(frames[0], 0.0)
    digest = cam2.snapshot_sha256()
    assert (tmp_path / "default" / f"{digest}.jpg").is_file()
    png = save_snapshot(frames[0], tmp_path, ".png")
    assert hashlib.sha256(png.path.read_bytes()).hexdigest() == png.sha256


def test_unopenable_file_stops(tmp_path):
    _, got, states = run_camera(tmp_path / "missing.avi")
    assert got == [] and states == ["disconnected", "stopped"]


def test_decoders_interface():
    img = render_frame([EAN, QR], SIZE)
    for dec in (ZxingDecoder(), ZxingDecoder(["ean13", "qr"], fast=True), PyzbarDecoder(), PyzbarDecoder(["qr", "ean13"])):
        found = sorted((d.symbology or "", d.text) for d in dec.decode(img))
        assert ("]E0", "4006381333931") in found, dec.name
        assert any(t == "SO-10001" for _, t in found), dec.name
    assert [d.text for d in ZxingDecoder(["qr"]).decode(img)] == ["SO-10001"]
    assert not PyzbarDecoder().supports("datamatrix") and ZxingDecoder().supports("datamatrix")
    with pytest.raises(ProfileError, match="pyzbar cannot read datamatrix"):
        PyzbarDecoder(["datamatrix"])
    with pytest.raises(ProfileError):
        make_decoder("opencv")
    with pytest.raises(ProfileError):
        ZxingDecoder(["ean14"])
    gray = np.asarray(img[:, :, 0])
    assert ZxingDecoder().decode(gray)


def test_parse_source():
    assert parse_source("0") == 0 and parse_source("rtsp://cam/1") == "rtsp://cam/1"


def test_stop_is_prompt_on_long_video(tmp_path):
    blank = render_frame([], (320, 240))
    path = write_video(tmp_path / "long.avi", [blank] * 400, fps=10)
    cam = CameraScanner(str(path), every_nth=1).start()
    time.sleep(0.05)
    t0 = time.monotonic()
    cam.stop()
    assert time.monotonic() - t0 < 2.0 and cam.state == "stopped"
