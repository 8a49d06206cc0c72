"""Test waybills with valid check digits, in two formats (pure functions, no I/O).

  * ``s10``: UPU S10, e.g. ``EE123456785CN``: 2-letter service indicator, 8-digit serial, a check digit
    (weights 8 6 4 2 3 5 9 7; 11 - sum mod 11, where 10 -> 0 and 11 -> 5), 2-letter country.
  * ``numeric``: a Chinese-express-style all-digit number (13 digits here): a carrier prefix, a serial and a
    GS1 mod-10 check digit (weights 3 and 1 from the right, as in EAN-13 and SSCC).
"""
from __future__ import annotations

import re

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")
FORMATS = ("s10", "numeric")
NUMERIC_LENGTH = 13


def s10_check_digit(serial: str) -> int:
    if not (len(serial) == 8 and serial.isdigit()):
        raise ValueError(f"an S10 serial is 8 digits, not {serial!r}")
    check = 11 - sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=False)) % 11
    return {10: 0, 11: 5}.get(check, check)


def s10(serial: int, service: str = "EE", country: str = "CN") -> str:
    if not 0 <= serial < 10**8:
        raise ValueError("an S10 serial is 0..99999999")
    if not (re.fullmatch(r"[A-Z]{2}", service) and re.fullmatch(r"[A-Z]{2}", country)):
        raise ValueError("service indicator and country are two capital letters")
    digits = f"{serial:08d}"
    return f"{service}{digits}{s10_check_digit(digits)}{country}"


def is_valid_s10(code: str) -> bool:
    m = _S10.match(code)
    return m is not None and s10_check_digit(m.group(2)) == int(m.group(3))


def mod10_check_digit(digits: str) -> int:
    """GS1 mod 10 over ``digits`` (without the check digit): weight 3 on the rightmost, then 1, 3, ..."""
    if not digits.isdigit():
        raise ValueError(f"not digits: {digits!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def numeric(serial: int, prefix: str = "78") -> str:
    body_len = NUMERIC_LENGTH - 1 - len(prefix)
    if not prefix.isdigit() or not 0 <= serial < 10**body_len:
        raise ValueError(f"numeric waybill: prefix digits and a serial below 10^{body_len}")
    body = f"{prefix}{serial:0{body_len}d}"
    return f"{body}{mod10_check_digit(body)}"


def is_valid_numeric(code: str) -> bool:
    return len(code) == NUMERIC_LENGTH and code.isdigit() and mod10_check_digit(code[:-1]) == int(code[-1])


def issue(fmt: str, serial: int) -> str:
    if fmt == "s10":
        return s10(serial)
    if fmt == "numeric":
        return numeric(serial)
    raise ValueError(f"unknown waybill format {fmt!r}; one of {', '.join(FORMATS)}")


def is_valid(code: str) -> bool:
    return is_valid_s10(code) or is_valid_numeric(code)
