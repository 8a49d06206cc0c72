"""The error answer the station returns when a request cannot become a verdict (same shape as a verdict)."""
from __future__ import annotations

from typing import Any


def error_answer(code: str, message: str, message_zh: str, **data: Any) -> dict:
    return {"status": "error", "code": code, "message": message, "message_zh": message_zh, "next": "",
            "sound": "error", "colour": "red", "data": data}
