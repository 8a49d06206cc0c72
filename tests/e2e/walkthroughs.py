"""The demo's two walkthroughs, step by step: what the docs say and what a browser test does for each step.

Each ``Step`` has ``says`` (the step as the docs print it, Markdown; URLs name the demo's default ports) and
``acts``, what ``test_walkthroughs_browser.py`` does and checks for it, in a small vocabulary:

    ("open", page, table, path)         open a page of table 1 or 2 ("hub" for the site dashboard)
    ("sign_in", page, badge, pin)       the PDA's or the dashboard's sign-in
    ("pick", page, order_id)            pick the order on the PDA: each bin, each item, then the tote, typed
    ("tap", page, who)                  the demo panel: choose the badge whose name starts so, press Tap badge
    ("type", page, code)                type a code into the scan field and press Enter, as a wedge scanner does
    ("from_list", page, label)          the demo panel: scan the code listed under this label
    ("lines_from_list", page, order)    the demo panel: scan every line of the open order from the list
    ("grams", page, grams)              the demo panel: put this weight on the scale ("expected": the one shown)
    ("empty", page)                     the demo panel: Empty scale
    ("scan_label", page)                type the waybill the Label panel shows
    ("scan_label_of", page, order)      type the waybill printed earlier for another order
    ("press", page, button)             press a button by its words; ("reason", page, preset) picks a reason
    ("verdict", page, status, code, text)   the verdict box shows this (text: a part of the message, or "")
    ("see", page, selector, text)       an element contains the text
    ("fill", page, selector, text)      type the text into a field (the Returns screen's grams)

The docs engineer renders ``says``; a change of the demo that breaks a step breaks the test.
"""
from __future__ import annotations

from dataclasses import dataclass

Act = tuple[str, ...]


@dataclass(frozen=True)
class Step:
    says: str
    acts: tuple[Act, ...]


ACROSS_THE_SITE = (
    Step("Open the PDA page <http://127.0.0.1:8080/pda> (table 1's), sign in with badge code `5E7D10B4`, PIN 4321, "
         "and pick `SO-10012` bin by bin (type the bin and the item codes, then the tote `T-0012`) → \"picked\".",
         (("open", "pda", "1", "/pda"), ("sign_in", "pda", "5E7D10B4", "4321"), ("pick", "pda", "SO-10012"),
          ("verdict", "pda", "ok", "order_picked", "Order SO-10012 picked into tote T-0012."))),
    Step("Within a second the site dashboard <http://127.0.0.1:8770/> (badge code `04D2E8F1A2B390`, PIN 9876) shows "
         "SO-10012 *Picked* (its row turns amber, then red, as it waits).",
         (("open", "dashboard", "hub", "/"), ("sign_in", "dashboard", "04D2E8F1A2B390", "9876"),
          ("see", "dashboard", 'tr.order[data-order="SO-10012"]', "Picked"))),
    Step("At table 2's kiosk <http://127.0.0.1:8081/>: tap **Maria Garcia** in the demo panel, scan `T-0012`, scan its "
         "items from the demo code list, enter the expected weight shown beside the scale as grams and press **Put on "
         "scale** → green "
         "\"Weight OK — label … printed\"; scan the waybill the **Label** panel shows → \"Order SO-10012 packed.\" "
         "and the kiosk is ready for the next order.",
         (("open", "kiosk2", "2", "/"), ("tap", "kiosk2", "Maria Garcia"), ("verdict", "kiosk2", "ok", "signed_in", "Maria Garcia"),
          ("type", "kiosk2", "T-0012"), ("verdict", "kiosk2", "ok", "order_opened", "SO-10012"),
          ("lines_from_list", "kiosk2", "SO-10012"), ("grams", "kiosk2", "expected"),
          ("verdict", "kiosk2", "ok", "label_printed", "Weight OK — label"), ("scan_label", "kiosk2"),
          ("verdict", "kiosk2", "ok", "packed", "Order SO-10012 packed."),
          ("see", "kiosk2", "#finished-summary", "SO-10012 packed"))),
    Step("Open an order at table 1's kiosk <http://127.0.0.1:8080/> (tap **Li Wei**, scan `SO-10013`) and scan the same "
         "order at table 2: red \"SO-10013 is being packed at Packing table 1 by Li Wei\". Press **Stop order** at "
         "table 1 and pick a reason (the order goes back to the queue; *Cancel order* would mean it is not packed at "
         "all): now table 2 opens it.",
         (("open", "kiosk1", "1", "/"), ("tap", "kiosk1", "Li Wei"), ("verdict", "kiosk1", "ok", "signed_in", "Li Wei"),
          ("type", "kiosk1", "SO-10013"),
          ("verdict", "kiosk1", "ok", "order_opened", "SO-10013"),
          ("type", "kiosk2", "SO-10013"),
          ("verdict", "kiosk2", "error", "claimed_elsewhere", "SO-10013 is being packed at Packing table 1 by Li Wei"),
          ("press", "kiosk1", "Stop order"), ("reason", "kiosk1", "Item missing / damaged"),
          ("verdict", "kiosk1", "ok", "cancelled", "back in the queue"),
          ("type", "kiosk2", "SO-10013"), ("verdict", "kiosk2", "ok", "order_opened", "SO-10013"))),
)

AT_ONE_TABLE = (
    Step("In the demo panel of <http://127.0.0.1:8080/>, choose **Li Wei · packer** and press **Tap badge** → "
         "\"Hello Li Wei\".",
         (("open", "kiosk", "1", "/"), ("tap", "kiosk", "Li Wei"), ("verdict", "kiosk", "ok", "signed_in", "Hello Li Wei."))),
    Step("Type `SO-10009` into the big scan field and press Enter (a keyboard-wedge scanner does exactly this) → the "
         "two lines appear with 0 / 1.",
         (("type", "kiosk", "SO-10009"), ("verdict", "kiosk", "ok", "order_opened", "Order SO-10009 is open: 2 lines"),
          ("see", "kiosk", '#lines tr[data-sku="SKU-007"] .count', "0 / 1"),
          ("see", "kiosk", '#lines tr[data-sku="SKU-025"] .count', "0 / 1"))),
    Step("Scan a wrong item, e.g. pick \"SO-10011: SKU-012 Ceramic mug\" from the demo code list → red \"SKU-012 "
         "(Ceramic mug) is not in order SO-10009; put it aside.\"",
         (("from_list", "kiosk", "SO-10011: SKU-012 Ceramic mug"),
          ("verdict", "kiosk", "error", "item_not_in_order", "SKU-012 (Ceramic mug) is not in order SO-10009; put it aside."),)),
    Step("Scan the two items of SO-10009 from the list (SKU-007, SKU-025) → \"Put the parcel on the scale\", with the "
         "expected weight (213.0 g) and the allowed range beside the scale (the 1 oz floor: 5 % of a light parcel is "
         "less than what a scale resolves).",
         (("lines_from_list", "kiosk", "SO-10009"), ("verdict", "kiosk", "ok", "item_accepted", "Put the parcel on the scale."),
          ("see", "kiosk", "#expected", "213.0 g"), ("see", "kiosk", "#expected", "184.7–241.3 g"))),
    Step("Enter `215` grams and press **Put on scale** → the weight moves, settles, and at once the label prints: green "
         "\"Weight OK — label EE…CN printed for carton 1 of SO-10009. Stick the label on the parcel and scan it.\" The "
         "**Label** panel shows the waybill and the label as printed.",
         (("grams", "kiosk", "215"), ("verdict", "kiosk", "ok", "label_printed", "Weight OK — label EE"),
          ("see", "kiosk", "#label-state", "printed"))),
    Step("Type the waybill shown into the scan field (the packer scans the label on the parcel) → \"Order SO-10009 "
         "packed\" and the kiosk is ready for the next order (with `--label-mode none`, lifting the parcel off the "
         "scale packs instead).",
         (("scan_label", "kiosk"), ("verdict", "kiosk", "ok", "packed", "Order SO-10009 packed."),
          ("see", "kiosk", "#finished-summary", "SO-10009 packed: 2 items, 215.0 g"))),
    Step("Press **Empty scale**. Scan `SO-10011`, scan its Ceramic mug **twice** (the order has 2), put `1100` g on "
         "the scale → red \"Blocked … +150.0 g (+15.79 %)\" — and no label. Press **Supervisor override**, pick or type a "
         "reason, then tap **Priya Nair · supervisor** → approved (recorded in the audit log, see `/supervisor`), and the "
         "label prints. Scan SO-10009's waybill → red \"WRONG LABEL … belongs to order SO-10009\"; scan the new one → "
         "packed.",
         (("empty", "kiosk"), ("type", "kiosk", "SO-10011"), ("verdict", "kiosk", "ok", "order_opened", "SO-10011"),
          ("from_list", "kiosk", "SO-10011: SKU-012 Ceramic mug"), ("from_list", "kiosk", "SO-10011: SKU-012 Ceramic mug"),
          ("grams", "kiosk", "1100"), ("verdict", "kiosk", "blocked", "weight_out_of_tolerance", "+150.0 g (+15.79 %)"),
          ("see", "kiosk", "#label-waybill", ""),
          ("press", "kiosk", "Supervisor override"), ("reason", "kiosk", "Extra flyer / insert"),
          ("verdict", "kiosk", "prompt", "override_requested", "Extra flyer / insert"),
          ("tap", "kiosk", "Priya Nair"), ("verdict", "kiosk", "ok", "label_printed", "Weight approved by a supervisor — label"),
          ("scan_label_of", "kiosk", "SO-10009"), ("verdict", "kiosk", "error", "label_other_order", "belongs to order SO-10009"),
          ("scan_label", "kiosk"), ("verdict", "kiosk", "ok", "packed", "Order SO-10011 packed."))),
    Step("Press **Empty scale**, scan `SO-10001`, then \"SKU-001 newest tea lot: FIFO prompt\" from the demo code list → "
         "amber FIFO prompt naming the older lot and its bin; press **Take older lot**, then scan \"SO-10001: SKU-001 …\" "
         "(the oldest lot) → accepted.",
         (("empty", "kiosk"), ("type", "kiosk", "SO-10001"), ("verdict", "kiosk", "ok", "order_opened", "SO-10001"),
          ("from_list", "kiosk", "SKU-001 newest tea lot: FIFO prompt"),
          ("verdict", "kiosk", "prompt", "fifo_older_lot", "goes before lot"),
          ("press", "kiosk", "Take older lot"), ("verdict", "kiosk", "prompt", "lot_swap", "take lot"),
          ("from_list", "kiosk", "SO-10001: SKU-001 Jasmine green tea 250 g tin"),
          ("verdict", "kiosk", "ok", "item_accepted", "SKU-001"))),
)

RETURNS = (
    Step("At table 1's kiosk <http://127.0.0.1:8080/> tap **Li Wei** in the demo panel, then press **Returns** at the "
         "top: the table's screen and its scanner switch to returns.",
         (("open", "kiosk1", "1", "/"), ("tap", "kiosk1", "Li Wei"), ("verdict", "kiosk1", "ok", "signed_in", "Li Wei"),
          ("open", "returns", "1", "/returns"), ("see", "returns", "#operator", "E001"))),
    Step("Scan the return parcel's waybill `RT-YTO-0002` (the demo WMS announced RMA-0002: one mug of SO-10011, "
         "damaged in transit) → green \"Return RMA-0002 for order SO-10011: 1 unit(s) expected\".",
         (("type", "returns", "RT-YTO-0002"),
          ("verdict", "returns", "ok", "return_received", "Return RMA-0002 for order SO-10011"))),
    Step("Scan a tea tin `06901234000016`: red \"… is not in return RMA-0002: refused\". Scan the mug "
         "`06901234000122` → \"SKU-012 received\".",
         (("type", "returns", "06901234000016"), ("verdict", "returns", "error", "return_item_not_in_rma", "refused"),
          ("type", "returns", "06901234000122"), ("verdict", "returns", "ok", "return_item_taken", "SKU-012 received"))),
    Step("Press **A · resellable** → the lot and bin to put it away to (D-01-01); type `352` as grams and press "
         "**Weigh** (a 350 g mug) → \"Returned items weigh 352.0 g\"; press **Close return** → green \"everything "
         "is fine, the refund goes out\".",
         (("press", "returns", "A · resellable"), ("verdict", "returns", "ok", "return_graded_a", "D-01-01"),
          ("fill", "returns", "#grams", "352"), ("press", "returns", "Weigh"),
          ("verdict", "returns", "ok", "return_weight_ok", "352.0 g"), ("press", "returns", "Close return"),
          ("verdict", "returns", "ok", "return_closed_refund", "the refund goes out"))),
    Step("The site dashboard <http://127.0.0.1:8770/> (badge code `04D2E8F1A2B390`, PIN 9876) lists RMA-0002 closed "
         "(*refund*, its processing time and grades) and the top reasons in words; the WMS refunds it once "
         "(<http://127.0.0.1:8765/v1/admin/rmas/RMA-0002>).",
         (("open", "dashboard", "hub", "/"), ("sign_in", "dashboard", "04D2E8F1A2B390", "9876"),
          ("see", "dashboard", 'tr.return.closed[data-rma="RMA-0002"]', "refund"),
          ("see", "dashboard", "#top-reasons", "damaged in transit"))),
)

WALKTHROUGHS = {"Walk an order across the site by hand": ACROSS_THE_SITE, "Walk an order through by hand": AT_ONE_TABLE,
                "Receive a return by hand": RETURNS}
