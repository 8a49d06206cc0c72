"""Camera at the packing table: it reads codes into the workflow and photographs the packed parcel.

The camera is the real ``device.camera.CameraScanner`` reading a generated video file; the photo's
SHA-256 must reach the pack confirmation upstream and the file must be stored locally under that name.
"""
from __future__ import annotations

import hashlib
import time
from decimal import Decimal

import pytest
from polling import eventually

from packgate.device.camera.emulator import render_frame, write_video
from packgate.station.demo.rig import build_rig
from packgate.sync.client import UpstreamClient
from packgate.sync.upstream import demo_data


@pytest.fixture
def camera_rig(tmp_path):
    video = write_video(tmp_path / "table-camera.avi", [render_frame([("code128", "SO-10009")])] * 6, fps=10)
    rig = build_rig(port=0, upstream_port=0, data_dir=str(tmp_path / "rig"),
                    overrides={"camera.enabled": True, "camera.source": str(video)})
    yield rig
    rig.stop()


def test_camera_scan_opens_the_order_and_the_pack_photo_hash_reaches_upstream(camera_rig):
    rig = camera_rig
    station = rig.agent.station
    assert rig.devices.tap(demo_data.DEMO_BADGES["packer"])["ok"]
    assert eventually(lambda: station.pack.operator is not None)
    # The order code is on the camera's video: the camera (not the scanner) opens the order...
    # ...but only once the packer is signed in, so feed the frames again through the same path.
    camera = rig.agent.devices.camera
    assert camera is not None and station.camera is camera
    assert eventually(lambda: camera.latest_frame is not None)
    camera.dedupe = type(camera.dedupe)(0.0)
    camera.process_frame(camera.latest_frame, time.monotonic() + 10)
    assert eventually(lambda: station.pack.order is not None and station.pack.order.order_id == "SO-10009")

    for sku in ("SKU-007", "SKU-025"):
        rig.scanner.scan(rig.world.item_code(sku))
    assert eventually(lambda: str(station.pack.state) == "ready_to_weigh")
    rig.scale.set_weight(rig.world.expected_g("SO-10009"), settle_s=0.2)
    assert eventually(lambda: str(station.pack.state) == "weighed_ok")
    rig.scale.set_weight(Decimal(0), settle_s=0.1)
    assert eventually(lambda: str(station.pack.state) == "packed")

    assert eventually(lambda: station.sync_status().get("depth") == 0, timeout=15)
    client = UpstreamClient(rig.upstream_url, deadline_s=5, token=rig.admin_token)
    try:
        confs = client.order_confirmations("SO-10009")
    finally:
        client.close()
    pack = [c for c in confs if c["action"] == "pack"]
    assert len(pack) == 1
    sha = pack[0]["image_sha256"]
    assert sha and len(sha) == 64
    photos = list((rig.agent.cfg.data_dir / "photos").iterdir())
    stored = [p for p in photos if p.stem == sha]
    assert stored, f"no photo named {sha} in {photos}"
    assert hashlib.sha256(stored[0].read_bytes()).hexdigest() == sha


def test_in_print_mode_the_label_scan_packs_with_the_cameras_photo(tmp_path):
    """``label.mode = "print"``: the weighing prints the label, the scanner reads it on the parcel, and that scan's
    pack carries the camera's photo of the parcel (it used to be dropped)."""
    video = write_video(tmp_path / "table-camera.avi", [render_frame([("code128", "NOT-A-CODE")])] * 6, fps=10)
    rig = build_rig(port=0, upstream_port=0, data_dir=str(tmp_path / "rig"),
                    overrides={"camera.enabled": True, "camera.source": str(video), "label.mode": "print"})
    try:
        station = rig.agent.station
        assert rig.devices.tap(demo_data.DEMO_BADGES["packer"])["ok"]
        assert eventually(lambda: station.pack.operator is not None)
        assert eventually(lambda: rig.agent.devices.camera is not None
                          and rig.agent.devices.camera.latest_frame is not None)
        rig.scanner.scan("T-0009")
        assert eventually(lambda: station.pack.order is not None)
        for sku in ("SKU-007", "SKU-025"):
            rig.scanner.scan(rig.world.item_code(sku))
        assert eventually(lambda: str(station.pack.state) == "ready_to_weigh")
        rig.scale.set_weight(rig.world.expected_g("SO-10009"), settle_s=0.2)
        assert eventually(lambda: str(station.pack.state) == "label_printed", timeout=10)
        waybill = station.pack.label.waybill if station.pack.label else None
        assert waybill
        rig.scanner.scan(waybill)
        assert eventually(lambda: str(station.pack.state) == "packed")
        assert eventually(lambda: station.sync_status().get("depth") == 0, timeout=15)
        client = UpstreamClient(rig.upstream_url, deadline_s=5, token=rig.admin_token)
        try:
            (pack,) = [c for c in client.order_confirmations("SO-10009") if c["action"] == "pack"]
        finally:
            client.close()
        assert pack["payload"]["waybill"] == waybill
        sha = pack["image_sha256"]
        stored = [p for p in (rig.agent.cfg.data_dir / "photos").iterdir() if p.stem == sha]
        assert sha and stored and hashlib.sha256(stored[0].read_bytes()).hexdigest() == sha
    finally:
        rig.stop()
