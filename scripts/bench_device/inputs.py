"""Adapter: the scanner/camera section lives in scripts/bench_device_inputs.py (``run_section(args)``)."""
import bench_device_inputs as _inputs

TITLE = _inputs.TITLE
COLUMNS = _inputs.COLUMNS


def run(args):
    return _inputs.run_section(args)
