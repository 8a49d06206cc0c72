from datetime import date, timedelta
from decimal import Decimal

from biip.gtin import Gtin

from packgate.sync.common.pins import hash_pin, pin_matches
from packgate.sync.upstream.demo_data import DEMO_BADGES, DEMO_HASHES, DEMO_ORDERS, EMPLOYEES, demo_hash, demo_reference, gs1_check_digit

TODAY = date(2026, 1, 5)
DATA = demo_reference(TODAY)  # cheap: the demo PINs are hashed in advance
SKUS = {s["sku"]: s for s in DATA["skus"]}


def lots(sku):
    return [l for l in DATA["lots"] if l["sku"] == sku]


def test_gtins_have_valid_check_digits():
    assert gs1_check_digit("400638133393") == "1"  # a published GTIN-13: 4006381333931
    kinds = set()
    for sku in DATA["skus"]:
        parsed = Gtin.parse(sku["gtin"])  # biip validates the check digit
        kinds.add(parsed.format.name)
        assert len(sku["gtin"]) == 14
    assert {"GTIN_13", "GTIN_14"} <= kinds


def test_catalog_shape():
    assert 25 <= len(SKUS) <= 35
    weights = [s["unit_weight_g"] for s in SKUS.values()]
    assert sum(w is None for w in weights) >= 2
    assert all(w is None or (isinstance(w, str) and Decimal(w) > 0) for w in weights)
    assert sum(s["special"] for s in SKUS.values()) >= 2
    assert any(w is not None and Decimal(w) <= 65 for w in weights)
    assert {s["lot_policy"] for s in SKUS.values()} == {"FIFO", "FEFO", "NONE"}


def test_lot_scenarios_relative_to_today():
    expiries = [date.fromisoformat(l["expires"]) for l in DATA["lots"] if l["expires"]]
    assert any(e < TODAY for e in expiries)
    assert any(TODAY <= e <= TODAY + timedelta(days=90) for e in expiries)
    assert all(l["bin"] and l["lot"].startswith("L") for l in DATA["lots"])
    for sku in SKUS:
        assert lots(sku), sku


def test_named_orders_exercise_the_rules():
    orders = {o["order_id"]: o for o in DATA["orders"]}
    assert len(orders) == 20 and all(o["status"] == "open" and o["tote"] for o in orders.values())
    skus_of = {k: [l["sku"] for l in orders[v]["lines"]] for k, v in DEMO_ORDERS.items()}
    assert any(SKUS[s]["lot_policy"] == "FIFO" and len(lots(s)) > 1 for s in skus_of["fifo"])
    assert any(SKUS[s]["special"] for s in skus_of["special"])
    assert any(l["expires"] and date.fromisoformat(l["expires"]) < TODAY
               for s in skus_of["expired"] for l in lots(s))
    light = orders[DEMO_ORDERS["light"]]
    tare = {p["code"]: Decimal(p["tare_g"]) for p in DATA["packaging"]}
    total = sum(Decimal(SKUS[l["sku"]]["unit_weight_g"]) * l["qty"] for l in light["lines"]) + tare[light["packaging"]]
    assert total < 100
    assert any(SKUS[s]["unit_weight_g"] is None for s in skus_of["no_weight"])
    assert all(l["sku"] in SKUS for o in orders.values() for l in o["lines"])
    assert all(o["packaging"] in tare for o in orders.values())
    assert {"BOX-S", "BOX-M", "BOX-L"} <= set(tare)


def test_employees_and_badges():
    roles = [e["role"] for e in DATA["employees"]]
    assert 2 <= roles.count("packer") <= 3 and "picker" in roles and "supervisor" in roles
    uids = [e["badge_uid"] for e in DATA["employees"]]
    assert {len(u) for u in uids} == {8, 14}  # 4- and 7-byte UIDs
    assert all(u == u.upper() and int(u, 16) >= 0 for u in uids)
    assert set(DEMO_BADGES.values()) <= set(uids)
    assert all(e["pin_hash"].startswith("$argon2id$") and "pin" not in e and e["phone"].startswith("+")
               for e in DATA["employees"])  # PINs only as salted argon2 hashes, never in plain text


def test_deterministic():
    assert demo_reference(TODAY) == DATA


def test_the_demo_pins_hashed_in_advance_are_theirs_and_a_real_pin_gets_the_default_cost():
    for pin, stored in DEMO_HASHES.items():
        assert pin_matches(stored, pin) and not pin_matches(stored, "0000"), pin
        assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")  # public demo PINs: a low cost
    assert hash_pin("2580").startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # argon2-cffi's defaults
    assert demo_hash("2580").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert {e[4] for e in EMPLOYEES} <= set(DEMO_HASHES)  # every demo employee's PIN
