"""OpenCV and FFmpeg keep their codec chatter off stderr: probing the codecs and opening a clip print nothing of
their own, while anything else written to stderr meanwhile still gets through (device/camera/quiet.py)."""
from __future__ import annotations

import logging
import os
import time

import numpy as np

from packgate.device.camera.quiet import native_stderr
from packgate.device.camera.recorder import CODECS, ClipRecorder, choose_codec
from packgate.device.clock import Clock

NOISE = ("OpenCV:", "[ERROR:", "[h264", "VIDEOIO", "cap_ffmpeg")


def test_probing_the_codecs_and_recording_print_no_native_noise(tmp_path, capfd):
    capfd.readouterr()
    codec = choose_codec()  # tries H.264 first: this build's FFmpeg refuses it loudly
    assert codec is not None
    recorder = ClipRecorder(codec, tmp_path / f".recording{codec.ext}", ["SO-1  ST01  E001"], wall=Clock().now).start()
    for _ in range(5):
        recorder.offer(np.zeros((48, 64, 3), np.uint8))
        time.sleep(0.06)
    recorder.mark("BLOCKED: Weight 1100.0 g is +150.0 g off the expected 950.0 g", "error")
    clip = recorder.finish(tmp_path)
    assert clip is not None and clip.size > 0
    err = capfd.readouterr().err
    assert not [line for line in err.splitlines() if line.startswith(NOISE)], err


def test_native_lines_go_to_the_log_and_other_writes_pass_through(capfd, caplog):
    log = logging.getLogger("packgate.test.quiet")
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG, logger="packgate.test.quiet"), native_stderr(log):
        os.write(2, b"OpenCV: FFMPEG: tag 0x30385056/'VP80' is not supported with codec id 139\n")
        os.write(2, b"a line of our own\n")
    err = capfd.readouterr().err
    assert err == "a line of our own\n"
    assert [r.getMessage() for r in caplog.records] == ["OpenCV: FFMPEG: tag 0x30385056/'VP80' is not supported with codec id 139"]
    assert [c.fourcc for c in CODECS][:3] == ["avc1", "H264", "VP80"]  # the loud ones are tried first
