"""Deterministic demo reference data for the reference upstream (``packgate upstream --seed-demo``).

Everything is a table; dates are offsets from ``today`` so the scenarios (an expired lot, lots
expiring within 90 days, FIFO/FEFO prompts) hold whatever day the demo runs. GTIN check digits
are computed from the base digits in the table by the one GS1 mod-10 helper below.
"""
from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from packgate.sync.common.db import write_tx
from packgate.sync.common.pins import hash_pin

# sku, GTIN without check digit (12 digits -> GTIN-13, 13 digits -> GTIN-14), name, unit weight g (None = no
# catalog weight), special (second badge), category, lot policy
SKUS = (
    ("SKU-001", "690123400001", "Jasmine green tea 250 g tin", "262.0", False, "grocery", "FIFO"),
    ("SKU-002", "690123400002", "Oolong tea 100 g", "108.5", False, "grocery", "FIFO"),
    ("SKU-003", "690123400003", "Instant noodles 5-pack", "525.0", False, "grocery", "FEFO"),
    ("SKU-004", "690123400004", "Soy sauce 500 ml", "610.0", False, "grocery", "FEFO"),
    ("SKU-005", "690123400005", "Acacia honey 500 g jar", "720.0", False, "grocery", "FEFO"),
    ("SKU-006", "690123400006", "Vitamin C tablets 60 g", "62.0", False, "health", "FEFO"),
    ("SKU-007", "690123400007", "Charging cable 1 m", "58.0", False, "electronics", "NONE"),
    ("SKU-008", "690123400008", "Wireless earbuds", "85.0", True, "electronics", "NONE"),
    ("SKU-009", "690123400009", "Smartwatch", "140.0", True, "electronics", "NONE"),
    ("SKU-010", "690123400010", "Olive oil 1 l", "1020.0", False, "grocery", "FEFO"),
    ("SKU-011", "690123400011", "Canned tuna 3 x 80 g", "520.0", False, "grocery", "FEFO"),
    ("SKU-012", "690123400012", "Ceramic mug", "350.0", False, "home", "NONE"),
    ("SKU-013", "690123400013", "Notebook A5", "210.0", False, "office", "NONE"),
    ("SKU-014", "690123400014", "Gel pens 10-pack", "95.0", False, "office", "NONE"),
    ("SKU-015", "690123400015", "Sunscreen SPF50 100 ml", "110.0", False, "health", "FEFO"),
    ("SKU-016", "690123400016", "Face masks 50 pcs", "160.0", False, "health", "FIFO"),
    ("SKU-017", "690123400017", "Hand soap 300 ml", "340.0", False, "home", "FIFO"),
    ("SKU-018", "690123400018", "Jasmine rice 2 kg", "2010.0", False, "grocery", "FIFO"),
    ("SKU-019", "690123400019", "Dried shiitake 200 g", "215.0", False, "grocery", "FEFO"),
    ("SKU-020", "690123400020", "Gift card", None, False, "gift", "NONE"),
    ("SKU-021", "690123400021", "Gift wrap, cut to order", None, False, "gift", "NONE"),
    ("SKU-022", "690123400022", "Infant formula 800 g", "905.0", True, "baby", "FEFO"),
    ("SKU-023", "690123400023", "Coffee beans 1 kg", "1030.0", False, "grocery", "FIFO"),
    ("SKU-024", "690123400024", "Dark chocolate 60 g", "62.0", False, "grocery", "FEFO"),
    ("SKU-025", "690123400025", "USB-C adapter", "35.0", False, "electronics", "NONE"),
    ("SKU-026", "690123400026", "Socks 3-pack", "120.0", False, "apparel", "NONE"),
    ("SKU-027", "690123400027", "Water bottle 500 ml", "240.0", False, "home", "NONE"),
    ("SKU-028", "1690123400001", "Case: jasmine green tea x12", "3200.0", False, "grocery", "FIFO"),
    ("SKU-029", "1690123400003", "Case: instant noodles x6", "3250.0", False, "grocery", "FEFO"),
    ("SKU-030", "1690123400004", "Case: soy sauce x12", "7500.0", False, "grocery", "FEFO"),
)

# sku, produced (days before today), expires (days after today; negative = expired; None = no expiry), bin, qty
LOTS = (
    ("SKU-001", 80, 640, "A-01-01", 12), ("SKU-001", 35, 685, "A-01-02", 40), ("SKU-001", 5, 715, "A-01-03", 60),
    ("SKU-002", 60, 300, "A-01-04", 25), ("SKU-002", 10, 350, "A-01-05", 30),
    ("SKU-003", 50, 130, "A-02-01", 80), ("SKU-003", 20, 70, "A-02-02", 50), ("SKU-003", 3, 177, "A-02-03", 90),
    ("SKU-004", 200, 165, "A-02-04", 20), ("SKU-004", 40, 325, "A-02-05", 45),
    ("SKU-005", 400, -3, "A-03-01", 6), ("SKU-005", 90, 640, "A-03-02", 24), ("SKU-005", 30, 700, "A-03-03", 36),
    ("SKU-006", 300, 60, "B-01-01", 30), ("SKU-006", 60, 300, "B-01-02", 80),
    ("SKU-007", 120, None, "C-01-01", 200),
    ("SKU-008", 45, None, "C-01-02", 15),
    ("SKU-009", 30, None, "C-01-03", 8),
    ("SKU-010", 100, 265, "A-04-01", 18), ("SKU-010", 15, 350, "A-04-02", 30),
    ("SKU-011", 500, 20, "A-04-03", 40), ("SKU-011", 90, 1000, "A-04-04", 60),
    ("SKU-012", 200, None, "D-01-01", 24),
    ("SKU-013", 150, None, "D-01-02", 100),
    ("SKU-014", 150, None, "D-01-03", 100),
    ("SKU-015", 320, 45, "B-02-01", 25), ("SKU-015", 50, 680, "B-02-02", 40),
    ("SKU-016", 70, 1000, "B-02-03", 60), ("SKU-016", 12, 1050, "B-02-04", 60),
    ("SKU-017", 90, 640, "B-03-01", 30), ("SKU-017", 20, 710, "B-03-02", 30),
    ("SKU-018", 110, 255, "A-05-01", 20), ("SKU-018", 25, 340, "A-05-02", 35),
    ("SKU-019", 180, 185, "A-05-03", 15), ("SKU-019", 40, 325, "A-05-04", 25),
    ("SKU-020", 10, None, "E-01-01", 500),
    ("SKU-021", 10, None, "E-01-02", 50),
    ("SKU-022", 200, 80, "B-04-01", 10), ("SKU-022", 60, 660, "B-04-02", 20),
    ("SKU-023", 75, 290, "A-06-01", 12), ("SKU-023", 14, 350, "A-06-02", 20),
    ("SKU-024", 150, 30, "A-06-03", 40), ("SKU-024", 20, 340, "A-06-04", 60),
    ("SKU-025", 60, None, "C-02-01", 150),
    ("SKU-026", 60, None, "D-02-01", 80),
    ("SKU-027", 60, None, "D-02-02", 40),
    ("SKU-028", 80, 640, "F-01-01", 4), ("SKU-028", 5, 715, "F-01-02", 6),
    ("SKU-029", 50, 130, "F-01-03", 5), ("SKU-029", 3, 177, "F-01-04", 8),
    ("SKU-030", 200, 165, "F-02-01", 2), ("SKU-030", 40, 325, "F-02-02", 3),
)

PACKAGING = (
    ("BAG-XS", "Padded mailer", "12"),
    ("BOX-S", "Small box", "120"),
    ("BOX-M", "Medium box", "250"),
    ("BOX-L", "Large box", "420"),
)

# employee id, name, badge UID (canonical upper hex; 4- and 7-byte), role, PIN, phone
EMPLOYEES = (
    ("E001", "Li Wei", "04A1B2C3D4E5F6", "packer", "1234", "+86 138 0013 8000"),
    ("E002", "Maria Garcia", "9C3F2A71", "packer", "2468", "+34 612 345 678"),
    ("E003", "Sam Okafor", "0455AA19C27380", "packer", "1357", "+44 7700 900123"),
    ("E004", "Zhang Min", "5E7D10B4", "picker", "4321", "+86 139 0013 9001"),
    ("E005", "Priya Nair", "04D2E8F1A2B390", "supervisor", "9876", "+91 98765 43210"),
)
DEMO_BADGES = {"packer": "04A1B2C3D4E5F6", "packer2": "9C3F2A71", "packer3": "0455AA19C27380",
               "picker": "5E7D10B4", "supervisor": "04D2E8F1A2B390"}


# The demo employees' PINs, hashed in advance. They are public (the demo and its docs show them), so they are hashed
# at a low cost (8 MiB, one pass): the demo, the benches and the test suite sign in hundreds of times, and each
# check at the default cost (64 MiB, three passes) takes 0.2 s of CPU. Real PINs come from the WMS at its own cost;
# ``hash_pin`` uses argon2-cffi's defaults.
DEMO_HASHES = {
    "1234": "$argon2id$v=19$m=8192,t=1,p=1$TpRKK0gwVWTUPNNXbHhZXw$qbTrj940hKHrMJXaq13QUsDc5bIegTOvmfpnT3MV5Ps",
    "2468": "$argon2id$v=19$m=8192,t=1,p=1$9A+5ZJTn7/Iu+ahztUMCJw$g9oqBTr3MvVZVOm7KQOWukrWtBDGsPWkiCCuXZu+ysA",
    "1357": "$argon2id$v=19$m=8192,t=1,p=1$NW9WRbcy4as4pPgy2xC+3A$xO1HCLFBGUnrNt5Oh0BwjlEk6D7X4wpGKok49Q9c3O8",
    "4321": "$argon2id$v=19$m=8192,t=1,p=1$fvaUrgHWrKD7zQTrrIzTlw$x/TSs7ac+Chlwda46VJ1CQfBBxPMBP4gSJxsJ2zjeSg",
    "9876": "$argon2id$v=19$m=8192,t=1,p=1$VPE6dppkv1zijAKak6Gowg$ZnrLZzSoikXWHeHqtSkSbIRJjg1nCjlMsOU/authb5A",
}


@lru_cache(maxsize=64)
def demo_hash(pin: str) -> str:
    """A demo PIN's hash: the one made in advance, else one per PIN per process (seeding the demo stays fast)."""
    return DEMO_HASHES.get(pin) or hash_pin(pin)


# order id, tote, packaging, priority, lines "SKU:qty ..."
ORDERS = (
    ("SO-10001", "T-0001", "BOX-M", 1, "SKU-001:2 SKU-013:1"),      # FIFO: older tea lots to take first
    ("SO-10002", "T-0002", "BOX-S", 2, "SKU-008:1 SKU-025:2"),      # special (high value) item
    ("SO-10003", "T-0003", "BOX-M", 0, "SKU-005:1 SKU-004:1"),      # honey: oldest lot is expired
    ("SO-10004", "T-0004", "BAG-XS", 0, "SKU-006:1"),               # light parcel: 62 g + 12 g
    ("SO-10005", "T-0005", "BOX-S", 0, "SKU-020:1 SKU-014:1"),      # an item without catalog weight
    ("SO-10006", "T-0006", "BOX-S", 0, "SKU-015:2"),                # FEFO: a lot expiring within 90 days
    ("SO-10007", "T-0007", "BOX-L", 0, "SKU-018:1 SKU-010:1"),
    ("SO-10008", "T-0008", "BOX-M", 0, "SKU-003:2 SKU-011:1"),
    ("SO-10009", "T-0009", "BOX-S", 0, "SKU-007:1 SKU-025:1"),
    ("SO-10010", "T-0010", "BOX-M", 1, "SKU-009:1 SKU-026:2"),
    ("SO-10011", "T-0011", "BOX-M", 0, "SKU-012:2"),
    ("SO-10012", "T-0012", "BOX-S", 0, "SKU-024:3 SKU-002:1"),
    ("SO-10013", "T-0013", "BOX-L", 0, "SKU-023:1 SKU-019:2 SKU-017:1"),
    ("SO-10014", "T-0014", "BOX-M", 0, "SKU-022:1"),
    ("SO-10015", "T-0015", "BOX-S", 0, "SKU-016:1 SKU-014:2"),
    ("SO-10016", "T-0016", "BOX-L", 0, "SKU-028:1"),
    ("SO-10017", "T-0017", "BOX-M", 0, "SKU-027:1 SKU-013:2"),
    ("SO-10018", "T-0018", "BOX-S", 0, "SKU-021:1 SKU-026:1"),
    ("SO-10019", "T-0019", "BOX-L", 0, "SKU-029:1 SKU-006:2"),
    ("SO-10020", "T-0020", "BOX-M", 0, "SKU-001:1 SKU-003:1 SKU-024:1"),
)
# the recipients of the demo orders (personal data: sealed at rest at the station and the hub), by order number % 5
RECIPIENTS = (
    ("张伟", "+86 138 1234 5678", "上海市浦东新区世纪大道88号 1203室"),
    ("Anna Schmidt", "+49 151 2345 6789", "Hauptstraße 12, 10115 Berlin"),
    ("王芳", "+86 139 8765 4321", "北京市朝阳区建国路99号 8号楼"),
    ("Carlos Ruiz", "+34 611 222 333", "Calle Mayor 5, 28013 Madrid"),
    ("李娜", "+86 137 0000 1111", "广州市天河区体育西路1号"),
)
DEMO_ORDERS = {"fifo": "SO-10001", "special": "SO-10002", "expired": "SO-10003", "light": "SO-10004",
               "no_weight": "SO-10005", "fefo": "SO-10006"}

# returns announced by the demo WMS (逆向物流): rma id, order, return waybill, the customer's reason code, lines
# ("" = the whole order). SO-10009 is packed in the demo's walk: its RMA learns what was shipped from that pack.
RMAS = (
    ("RMA-0001", "SO-10009", "RT-SF-0001", "not_as_described", ""),
    ("RMA-0002", "SO-10011", "RT-YTO-0002", "damaged_in_transit", "SKU-012:1"),
    ("RMA-0003", "SO-10002", "RT-YTO-0003", "defective", "SKU-008:1"),
    ("RMA-0004", "SO-10006", "RT-YTO-0004", "changed_mind", ""),
)
DEMO_RMAS = {"packed_in_demo": "RMA-0001"}


def gs1_check_digit(digits: str) -> str:
    """GS1 mod-10 check digit for a GTIN body (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gtin14(base: str) -> str:
    return (base + gs1_check_digit(base)).rjust(14, "0")


def demo_reference(today: date, now: datetime | None = None) -> dict[str, list[dict]]:
    """All demo reference data in the contract's JSON shapes."""
    stamp = (now or datetime.combine(today, datetime.min.time(), timezone.utc)).isoformat(timespec="milliseconds")
    skus = [{"sku": s, "gtin": gtin14(g), "name": n, "unit_weight_g": w, "special": sp, "category": c, "lot_policy": p}
            for s, g, n, w, sp, c, p in SKUS]
    lots = []
    for sku, produced_ago, expires_in, bin_code, qty in LOTS:
        produced = today - timedelta(days=produced_ago)
        lots.append({"sku": sku, "lot": f"L{produced:%Y%m%d}", "produced": produced.isoformat(),
                     "expires": (today + timedelta(days=expires_in)).isoformat() if expires_in is not None else None,
                     "bin": bin_code, "qty": qty})
    packaging = [{"code": c, "name": n, "tare_g": t} for c, n, t in PACKAGING]
    employees = [{"employee_id": e, "name": n, "badge_uid": b, "role": r, "pin_hash": demo_hash(pin), "phone": ph}
                 for e, n, b, r, pin, ph in EMPLOYEES]
    orders = [{"order_id": o, "tote": t, "packaging": p, "priority": pr, "status": "open", "updated_at": stamp,
               "carrier": "SF" if int(o[-1]) % 2 else "YTO",  # who collects it at the dock (odd: SF, even: YTO)
               "ship_to": dict(zip(("name", "phone", "address"), RECIPIENTS[int(o[-2:]) % len(RECIPIENTS)], strict=False)),
               "lines": [{"sku": part.split(":")[0], "qty": int(part.split(":")[1])} for part in lines.split()]}
              for o, t, p, pr, lines in ORDERS]
    return {"skus": skus, "lots": lots, "packaging": packaging, "employees": employees, "orders": orders}


def seed(conn: sqlite3.Connection, today: date | None = None, now: datetime | None = None) -> int:
    """Load the demo data into a reference-upstream database; returns the new cursor."""
    from packgate.sync.upstream import returns
    from packgate.sync.upstream import store as store

    today = today or date.today()
    now = now or datetime.now(timezone.utc).astimezone()
    store.ensure_schema(conn)
    returns.ensure_schema(conn)
    cursor = 0
    with write_tx(conn):
        for kind, items in demo_reference(today, now).items():
            cursor = store.upsert_reference(conn, kind, items, now)
        for rma_id, order_id, waybill, reason, lines in RMAS:
            body: dict[str, object] = {"rma_id": rma_id, "order_id": order_id, "waybill": waybill, "reason": reason}
            if lines:
                body["lines"] = [{"sku": part.split(":")[0], "qty": int(part.split(":")[1])} for part in lines.split()]
            returns.announce(conn, body, now)
        cursor = store.current_cursor(conn)
    return cursor
