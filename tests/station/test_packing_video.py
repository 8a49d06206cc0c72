"""Packing video: the real camera code plays a generated video in real time (an emulated live camera); the
station records a clip per order through OpenCV's VideoWriter, and OpenCV reads it back."""
from __future__ import annotations

import hashlib
import time
from decimal import Decimal

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from polling import eventually

from packgate.device.camera.emulator import table_scene, write_video
from packgate.station.demo.rig import build_rig
from packgate.station.runtime.cli import cli
from packgate.sync.client import UpstreamClient
from packgate.sync.upstream import demo_data

ORDER = "SO-10009"

SUPERVISOR = ("--badge", "04D2E8F1A2B390", "--pin", "9876")  # an export needs a supervisor's badge and PIN




@pytest.fixture
def video_rig(tmp_path):
    source = write_video(tmp_path / "table.avi", table_scene(), fps=10)
    rig = build_rig(port=0, upstream_port=0, data_dir=str(tmp_path / "rig"),
                    overrides={"camera.enabled": True, "camera.source": str(source), "camera.playback": "loop",
                               "scanner.enabled": True})
    yield rig
    rig.stop()


def _open_order(rig):
    station = rig.agent.station
    assert rig.devices.tap(demo_data.DEMO_BADGES["packer"])["ok"]
    assert eventually(lambda: station.pack.operator is not None)
    rig.scanner.scan(ORDER)
    assert eventually(lambda: station.pack.order is not None and station.pack.order.order_id == ORDER)
    assert eventually(lambda: station.video.current is not None and station.video.current.recorder.frames > 5)


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def _is_red(band: np.ndarray) -> bool:
    b, g, r = (float(band[..., i].mean()) for i in range(3))
    return r > 150 and g < 90 and b < 90


def test_a_packed_order_has_a_clip_with_the_overlay_and_its_hash_in_the_pack_confirmation(video_rig):
    rig = video_rig
    station = rig.agent.station
    assert station.video.codec is not None and station.video.codec.fourcc in ("VP80", "VP90", "avc1", "H264")
    _open_order(rig)
    rig.scanner.scan(rig.world.item_code("SKU-001"))  # not in the order: a red verdict band in the clip
    assert eventually(lambda: station.verdict and station.verdict["status"] == "error")
    time.sleep(0.6)
    for sku in ("SKU-007", "SKU-025"):
        rig.scanner.scan(rig.world.item_code(sku))
    assert eventually(lambda: str(station.pack.state) == "ready_to_weigh")
    rig.scale.set_weight(rig.world.expected_g(ORDER), settle_s=0.2)
    assert eventually(lambda: str(station.pack.state) == "weighed_ok")
    rig.scale.set_weight(Decimal(0), settle_s=0.1)
    assert eventually(lambda: str(station.pack.state) == "packed")

    assert eventually(lambda: station.sync_status().get("depth") == 0, timeout=15)
    client = UpstreamClient(rig.upstream_url, deadline_s=5, token=rig.admin_token)
    try:
        pack = [c for c in client.order_confirmations(ORDER) if c["action"] == "pack"]
    finally:
        client.close()
    assert len(pack) == 1
    sha = pack[0]["payload"]["clip_sha256"]
    clips = list((rig.agent.cfg.data_dir / "clips" / ORDER).glob(f"{sha}.*"))
    assert len(clips) == 1 and hashlib.sha256(clips[0].read_bytes()).hexdigest() == sha
    assert clips[0].suffix == station.video.codec.ext

    frames = _frames(clips[0])
    assert len(frames) >= 10 and frames[0].shape[1] == 640
    header = frames[0][:60]
    assert (header > 200).sum() > 200, "the order id / station / time lines are burned into the top strip"
    assert float(frames[0][70:].mean()) > 100, "the camera's picture is below the strip"
    bands = [f[-45:] for f in frames]
    assert any(_is_red(b) for b in bands), "the refused scan is a red band in the clip"
    assert not _is_red(bands[0])

    rec = station.evidence(ORDER)
    assert rec["media"]["clips"] == [sha]
    assert [(c["sha256"], c["outcome"], c["operator"]) for c in rec["clips"]] == [(sha, "packed", "E001")]


def test_a_stopped_order_keeps_its_clip_under_the_order_supervisors_play_it_export_has_it(video_rig, tmp_path):
    rig = video_rig
    station = rig.agent.station
    _open_order(rig)
    verdict = station.handle({"action": "cancel", "payload": {"reason": "box damaged", "scope": "pack_session"}})
    assert verdict["code"] == "cancelled"
    assert station.video.current is None
    rec = station.evidence(ORDER)
    assert [c["outcome"] for c in rec["clips"]] == ["stopped"]
    sha = rec["clips"][0]["sha256"]
    path = rig.agent.cfg.data_dir / "clips" / ORDER / f"{sha}{station.video.codec.ext}"
    assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert len(_frames(path)) >= 5
    assert station.video.clip_file(ORDER, sha) == path

    # the supervisor page plays it: supervisors only, with Range (seeking in the <video> element)
    client = rig.agent.app.test_client()
    url = f"/api/v1/supervisor/evidence/{ORDER}/clips/{sha}"
    assert client.get(url).status_code == 401
    login = client.post("/api/v1/pda/login", json={"badge": demo_data.DEMO_BADGES["supervisor"], "pin": "9876"},
                        headers={"X-CSRF-Token": client.get("/api/v1/csrf").get_json()["csrf_token"]})
    assert login.get_json()["status"] == "ok", login.get_json()
    whole = client.get(url)
    assert whole.status_code == 200 and whole.mimetype.startswith("video/") and whole.data == path.read_bytes()
    part = client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == path.read_bytes()[:100]
    assert client.get(f"/api/v1/supervisor/evidence/SO-OTHER/clips/{sha}").status_code == 404

    # packgate evidence export ORDER writes the clip with the record, hash-checked
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["evidence", "export", ORDER, "--to", str(out), *SUPERVISOR,
                                      "--db", str(rig.agent.cfg.data_dir / "station.db"), "--json"])
    assert result.exit_code == 0, result.output
    assert (out / path.name).read_bytes() == path.read_bytes()


def test_a_full_disk_budget_is_a_health_problem(tmp_path):
    source = write_video(tmp_path / "table.avi", table_scene(), fps=10)
    rig = build_rig(port=0, upstream_port=0, data_dir=str(tmp_path / "rig"),
                    overrides={"camera.enabled": True, "camera.source": str(source), "camera.playback": "loop",
                               "video.max_disk_mb": 0.001})
    try:
        station = rig.agent.station
        assert station.health()["ok"], station.health()["problems"]
        _open_order(rig)
        station.handle({"action": "cancel", "payload": {"reason": "box damaged"}})
        health = station.health()
        assert not health["ok"]
        assert any("over their disk budget" in p for p in health["problems"]), health["problems"]
        # evidence of an order not shipped is not removed for space
        assert [c["removed_at"] for c in station.evidence(ORDER)["clips"]] == [None]
    finally:
        rig.stop()


def test_a_return_at_the_kiosk_is_filmed_and_its_clip_sealed_into_the_close(video_rig):
    """Returns mode: the table's scanner receives the return parcel, the camera films it until it closes; the clip is
    filed under the RMA, its SHA-256 in ``return_closed`` and in the return's evidence record."""
    rig = video_rig
    station = rig.agent.station
    assert rig.devices.tap(demo_data.DEMO_BADGES["packer"])["ok"]
    assert eventually(lambda: station.pack.operator is not None)
    station.returns.set_mode("returns")
    rig.scanner.scan("RT-YTO-0002")
    assert eventually(lambda: station.verdict and station.verdict["code"] == "return_received")
    assert eventually(lambda: station.video.current is not None and station.video.current.kind == "return"
                      and station.video.current.recorder.frames > 5)
    rig.scanner.scan(rig.world.item_code("SKU-001"))  # not in the RMA: a red band in the clip
    assert eventually(lambda: station.verdict and station.verdict["code"] == "return_item_not_in_rma")
    rig.scanner.scan(rig.world.item_code("SKU-012"))
    assert eventually(lambda: station.verdict and station.verdict["code"] == "return_item_taken")
    desk = station.returns
    assert desk.handle({"action": "grade", "payload": {"unit": 1, "grade": "A"}}, "E001")["code"] == "return_graded_a"
    assert desk.handle({"action": "weigh", "payload": {"grams": "351"}}, "E001")["code"] == "return_weight_ok"
    closed = desk.handle({"action": "close"}, "E001")
    assert closed["code"] == "return_closed_refund" and station.video.current is None
    sha = station.parts.conn.execute("SELECT json_extract(body, '$.payload.clip_sha256') FROM sync_outbox"
                                     " WHERE action = 'return_closed'").fetchone()[0]
    path = station.video.clip_file("RMA-0002", sha)
    assert path is not None and hashlib.sha256(path.read_bytes()).hexdigest() == sha and len(_frames(path)) > 5
    assert station.returns.evidence("RMA-0002")["clips"] == [sha]
