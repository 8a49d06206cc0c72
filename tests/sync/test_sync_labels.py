"""Waybill check digits (published examples) and the label contract against the real reference upstream."""
import base64

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from packgate.device.printer.languages import LANGUAGES
from packgate.sync.upstream import waybills


@pytest.mark.parametrize("code", ["EE123456785CN", "RR123456785GB", "CP000000005CN"])
def test_s10_published_and_computed_examples_are_valid(code):
    assert waybills.is_valid_s10(code)


def test_s10_check_digit_rules():
    assert waybills.s10_check_digit("12345678") == 5  # UPU S10 example EE123456785CN
    assert waybills.s10(12345678) == "EE123456785CN"
    assert not waybills.is_valid_s10("EE123456784CN")
    assert waybills.s10_check_digit("00000000") == 5  # 11 - 0 = 11 -> 5
    assert waybills.s10_check_digit("00000007") == 6  # 7*7 = 49, 49 mod 11 = 5, 11 - 5 = 6
    assert waybills.s10_check_digit("00000008") == 0  # 7*8 = 56, 56 mod 11 = 1, 11 - 1 = 10 -> 0


def test_gs1_mod10_published_examples():
    assert waybills.mod10_check_digit("400638133393") == 1  # EAN-13 4006381333931
    assert waybills.mod10_check_digit("629104150021") == 3  # GS1 example 6291041500213
    assert waybills.mod10_check_digit("00614141123456789") == 0  # SSCC 006141411234567890 (GS1 General Specifications)
    assert waybills.is_valid_numeric(waybills.numeric(42))
    assert not waybills.is_valid_numeric("7800000000017")


@given(st.integers(0, 10**8 - 1))
def test_every_issued_s10_validates_and_one_wrong_digit_does_not(serial):
    code = waybills.s10(serial)
    assert waybills.is_valid_s10(code)
    bad = code[:10] + str((int(code[10]) + 1) % 10) + code[11:]
    assert not waybills.is_valid_s10(bad)


def parcel(**extra):
    body = {"key": "parcel-SO-10001-1", "order_id": "SO-10001", "carton": 1, "cartons": 2, "weight_g": 1234,
            "box": "BOX-M", "dimensions_mm": [300, 200, 150]}
    body.update(extra)
    return body


def test_label_is_idempotent_by_the_parcel_key(upstream):
    first = requests.post(upstream + "/v1/labels", json=parcel(), timeout=5)
    assert first.status_code == 200, first.text
    again = requests.post(upstream + "/v1/labels", json=parcel(language="tspl"), timeout=5).json()
    assert again["waybill"] == first.json()["waybill"] and again["replay"] is True
    assert waybills.is_valid_s10(again["waybill"])
    other = requests.post(upstream + "/v1/labels", json=parcel(key="parcel-SO-10001-1b"), timeout=5)
    assert other.status_code == 409 and first.json()["waybill"] in other.json()["error"]
    changed = requests.post(upstream + "/v1/labels", json=parcel(weight_g=999), timeout=5)
    assert changed.status_code == 422
    second = requests.post(upstream + "/v1/labels", json=parcel(key="parcel-SO-10001-2", carton=2, format="numeric"),
                           timeout=5).json()
    assert second["waybill"] != first.json()["waybill"] and waybills.is_valid_numeric(second["waybill"])


@pytest.mark.parametrize("language", ["zpl", "tspl"])
def test_label_answers_the_rendered_job_with_the_waybill_barcode(upstream, language):
    answer = requests.post(upstream + "/v1/labels", json=parcel(language=language, size="76x130"), timeout=5).json()
    job = base64.b64decode(answer["job_base64"])
    lang = LANGUAGES[language]
    label = lang.parse(lang.split(job)[0][0], 203)
    assert label.barcodes == [answer["waybill"]]
    assert answer["fields"]["order"] == "SO-10001" and answer["size"] == "76x130"


@pytest.mark.parametrize("body,status", [
    ({"order_id": "SO-10001", "carton": 1, "cartons": 1, "weight_g": 5}, 400),  # no key
    (parcel(order_id="SO-NOPE"), 404),
    (parcel(carton=3), 400),
    (parcel(weight_g=1.5), 400),
    (parcel(language="pcl"), 400),
])
def test_bad_label_requests_are_named(upstream, body, status):
    r = requests.post(upstream + "/v1/labels", json=body, timeout=5)
    assert r.status_code == status and r.json()["error"]


def test_reserved_waybills_for_offline_work(upstream):
    body = {"key": "reserve-SO-10002-a", "order_id": "SO-10002", "count": 3}
    first = requests.post(upstream + "/v1/waybills/reserve", json=body, timeout=5).json()
    assert len(first["waybills"]) == 3 and all(waybills.is_valid_s10(w) for w in first["waybills"])
    again = requests.post(upstream + "/v1/waybills/reserve", json=body, timeout=5).json()
    assert again["waybills"] == first["waybills"] and again["replay"] is True
    used = requests.post(upstream + "/v1/labels", json=parcel(order_id="SO-10002", key="parcel-SO-10002-1",
                                                              waybill=first["waybills"][0]), timeout=5).json()
    assert used["waybill"] == first["waybills"][0]
    twice = requests.post(upstream + "/v1/labels", json=parcel(order_id="SO-10002", key="parcel-SO-10002-2", carton=2,
                                                               waybill=first["waybills"][0]), timeout=5)
    assert twice.status_code == 422
    foreign = requests.post(upstream + "/v1/labels", json=parcel(key="parcel-SO-10001-x", waybill=first["waybills"][1]),
                            timeout=5)
    assert foreign.status_code == 422
