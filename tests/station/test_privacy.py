"""Masking personal data by role."""
import pytest

from packgate.station.core.models import Role
from packgate.station.core.privacy import mask_email, mask_phone, mask_record


@pytest.mark.parametrize("phone, masked", [
    ("13800138000", "*******8000"),
    ("+86 138 0013 8000", "*********8000"),
    ("(555) 010-4477", "******4477"),
    ("12345", "*2345"),
    ("1234", "****"),
    ("ext", "***"),
    ("", ""),
    (None, None),
])
def test_mask_phone_keeps_the_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked


RECORD = {"employee_id": "E001", "name": "Li Wei", "phone": "+86 138 0013 8000", "pin": "1234",
          "customer": {"address": "88 Century Ave, Shanghai", "email": "li@example.com", "phone": "13800138000"},
          "lines": [{"sku": "SKU-001", "qty": 2}]}


@pytest.mark.parametrize("role", [Role.PACKER, Role.PICKER, "packer", None])
def test_roles_without_need_see_masked_data(role):
    out = mask_record(RECORD, role)
    assert out["phone"] == "*********8000" and out["customer"]["phone"] == "*******8000"
    assert out["customer"]["address"] == "8***" and out["customer"]["email"] == "l***@example.com"
    assert out["name"] == "Li Wei" and out["lines"] == RECORD["lines"] and "pin" not in out


def test_supervisor_sees_all_personal_fields_but_never_the_pin():
    out = mask_record(RECORD, Role.SUPERVISOR)
    assert out["phone"] == RECORD["phone"] and out["customer"] == RECORD["customer"] and "pin" not in out


def test_input_is_not_modified():
    before = repr(RECORD)
    mask_record(RECORD, Role.PACKER)
    assert repr(RECORD) == before


def test_mask_email_without_at():
    assert mask_email("nobody") == "n***"
