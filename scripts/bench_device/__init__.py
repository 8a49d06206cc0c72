"""Sections of scripts/bench-device. Each section module registers ``run(args) -> list[dict]`` rows in SECTIONS.

To add a section (e.g. scanners): create scripts/bench_device/<name>.py with a ``run(args)`` function and a
``TITLE``, then add its module name to ``SECTION_MODULES``.
"""
SECTION_MODULES = ["scale", "inputs", "recording"]  # inputs: scanners and cameras (scripts/bench_device_inputs.py)
