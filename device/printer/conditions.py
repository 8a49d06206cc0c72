"""Every condition a label printer can report, in one vocabulary for all printer languages, with what the person
at the table does about it.

Invariants: a condition has the same name whatever answer it came from (``~HS``, ``~HQES``, ``<ESC>!?``,
``<ESC>!S``, ``~S,CHECK``); conditions are always reported in ``CONDITIONS`` order; a condition in ``WARNINGS``
is reported but never stops a job; ``NOTICES`` are the warnings a person should see before they stop the table
(``printing`` and ``buffer_full`` are only states).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, Mapping

#: condition -> what the packer should do about it
CONDITIONS: Mapping[str, str] = MappingProxyType({
    "paper_out": "load labels and close the print head",
    "paper_jam": "clear the label path and press feed",
    "head_open": "close the print head",
    "ribbon_out": "load a new ribbon",
    "ribbon_jam": "clear the ribbon path and rewind the ribbon tight",
    "label_waiting": "take the printed label off the printer",
    "rewinder_full": "empty the label rewinder",
    "paused": "press pause (or feed) on the printer to resume",
    "cover_open": "close the printer cover",
    "head_too_hot": "let the print head cool down",
    "head_too_cold": "the printer is too cold: let it warm up to room temperature",
    "motor_too_hot": "let the printer's motor cool down",
    "cutter_jam": "clear the cutter",
    "head_element_bad": "a print-head element is broken (labels may not scan): replace the print head",
    "head_fault": "print head not detected or its sensor is open: switch the printer off and on; if it stays, call service",
    "memory_full": "the printer's memory is full: switch it off and on (stored files may need deleting)",
    "corrupt_ram": "the printer lost its settings (corrupt RAM): switch it off and on, then calibrate",
    "partial_format": "a label was only partly received: press cancel on the printer, then print again",
    "job_error": "the printer refused the label data: print again; if it repeats, tell IT",
    "firmware_error": "the printer's firmware settings are invalid: call service",
    "diagnostic_mode": "the printer is in communication diagnostics mode: switch it off and on",
    "in_setup": "the printer is in its setting or keyboard mode: leave the menu",
    "error": "check the printer's display",
    "media_low": "labels are running low: have a new roll ready",
    "ribbon_low": "the ribbon is running low: have a new ribbon ready",
    "clean_head": "clean the print head at the next pause",
    "replace_head": "the print head is worn: plan its replacement",
    "calibrate_media": "calibrate the labels (hold feed) at the next pause",
    "printing": "",
    "buffer_full": "",
})
#: reported, but a job may still be sent
WARNINGS = frozenset({"printing", "buffer_full", "media_low", "ribbon_low", "clean_head", "replace_head",
                      "calibrate_media"})
#: warnings a person is shown (the others are states, not things to do)
NOTICES = frozenset(c for c in WARNINGS if CONDITIONS[c])


def ordered(conditions: Iterable[str]) -> tuple[str, ...]:
    """``conditions`` in ``CONDITIONS`` order, each once."""
    found = set(conditions)
    return tuple(c for c in CONDITIONS if c in found)
