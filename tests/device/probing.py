"""`device probe` in tests: the listen and reply windows cut to what an emulator on a pty needs (a station's
defaults, 1.5 s and 0.8 s, allow for real serial lines and slow scales; the probe tries every window in turn)."""
from __future__ import annotations

LISTEN_S = 0.1  # a streaming emulator at stream_interval=0.02 sends about five frames in it
REPLY_S = 0.25  # a pty answers in microseconds; the rest is room for a loaded machine's scheduling (0.08 s and 0.1 s each
# failed once at a load average of 15-17)


def probe_args(port: str) -> list[str]:
    return ["probe", "--port", port, "--listen", str(LISTEN_S), "--reply-timeout", str(REPLY_S)]
