"""``packgate device ...``: one group; scale commands in ``scale``, scanner and badge commands in ``inputs``,
label-printer commands in ``printer``, capturing a device and drafting its profile in ``capture``.

Run standalone with ``python -m packgate.device.cli``.
"""
from __future__ import annotations

from packgate.device.cli import capture, inputs, printer, scale
from packgate.device.cli.group import device

__all__ = ["capture", "device", "inputs", "main", "printer", "scale"]


def main() -> None:
    device(prog_name="packgate device")
