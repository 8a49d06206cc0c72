"""The label languages by name: each module escapes fields, checks templates, splits a stream into labels and
parses a label (see device.zpl, device.tspl, device.ezpl). A printer profile's ``language`` names one."""
from __future__ import annotations

from types import ModuleType

from packgate.device.printer.languages import ezpl, tspl, zpl

LANGUAGES: dict[str, ModuleType] = {m.name: m for m in (zpl, tspl, ezpl)}
