"""OpenCV and FFmpeg speak on the process's stderr by themselves: probing codecs ("Could not open codec
h264_v4l2m2m", "Failed to initialize VideoWriter") and a container's fallback tag ("tag 'VP80' is not supported
with codec id 139 and format 'webm'", on every clip). None of it is a problem of the station: the recorder says
in its own log line which codec it writes, and a writer that does not open is an error it reports itself.

``quiet_opencv()`` turns OpenCV's logging and FFmpeg's off (unless ``OPENCV_LOG_LEVEL`` / ``OPENCV_FFMPEG_LOGLEVEL``
are set: a person debugging gets them back); ``native_stderr(log)`` catches what native code still prints with
``fprintf`` while a writer opens and logs it at DEBUG. Anything else written to stderr meanwhile (another thread's
log line) is passed through unchanged. One redirection at a time (a lock): fd 2 is the process's.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

NATIVE = re.compile(r"^(OpenCV: |\[(ERROR|WARN|INFO|DEBUG):\d|\[[A-Za-z0-9_]+ @ 0x[0-9a-f]+\] )")
_lock = threading.Lock()


def quiet_opencv(cv2: object) -> None:
    """OpenCV's and FFmpeg's own logging off, unless the environment asks for it."""
    if "OPENCV_LOG_LEVEL" not in os.environ:
        logging_module = getattr(getattr(cv2, "utils", None), "logging", None)
        if logging_module is not None:
            logging_module.setLogLevel(logging_module.LOG_LEVEL_SILENT)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read when FFmpeg is first used


@contextmanager
def native_stderr(log: logging.Logger) -> Iterator[None]:
    """What native code prints to stderr inside the block goes to ``log`` at DEBUG, one record per line."""
    with _lock:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as caught:
            os.dup2(caught.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                caught.seek(0)
                text = caught.read().decode("utf-8", errors="replace")
    for line in text.splitlines():
        if NATIVE.match(line):
            log.debug("%s", line)
        elif line:
            os.write(2, (line + "\n").encode("utf-8"))
