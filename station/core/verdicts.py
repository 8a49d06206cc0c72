"""What the person at the table is told: one ``Verdict`` per event.

A verdict has a stable machine ``code`` (the UI, the logs and the tests key on it), a ``status``
(ok / prompt / blocked / error) from which the ``sound`` and ``colour`` follow, the ``next``
thing to do as a machine code, and the text in English and Simplified Chinese.

Two tables name every code, ``MESSAGES`` (the problem, per code) and ``NEXT_STEPS`` (what to
do, per next-step code); the message shown is ``problem + next step``. Fields in the texts are
``str.format`` fields filled from ``data``. Add a code here, never a string at the call site, then
run ``packgate i18n extract``: the texts shown come from the translation catalog (``core/texts.py``,
keys ``message:<code>`` and ``next:<code>``); the English and Chinese here are the source and the seed.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from packgate.station.core import returns_texts, texts, words

STATUSES = ("ok", "prompt", "blocked", "error", "intercepted", "review")
REFUSALS = ("error", "intercepted")  # the step did not happen (an intercepted one: the WMS stopped the order)

# status -> (sound, colour)
STATUS_STYLE: dict[str, tuple[str, str]] = {
    "ok": ("ok", "green"),
    "prompt": ("prompt", "amber"),
    "blocked": ("error", "red"),
    "error": ("error", "red"),
    "intercepted": ("intercept", "crimson"),  # 订单拦截: the WMS held or cancelled the order
    "review": ("review", "amber"),  # 订单审核: a site rule wants a supervisor before the label (striped amber, a chime)
}


@dataclass(frozen=True)
class Text:
    """One table row: default status and next step, and the problem in English and Chinese."""

    status: str
    next: str
    en: str
    zh: str


# next-step code -> (en, zh). Generic on purpose: the specifics are in the message.
NEXT_STEPS: dict[str, tuple[str, str]] = {
    "tap_badge": ("Tap your badge to sign in.", "请刷工牌登录。"),
    "scan_order": ("Scan the next order or tote.", "请扫描下一个订单或周转箱。"),
    "scan_item": ("Scan the next item.", "请扫描下一件商品。"),
    "choose_packaging": ("Scan the packaging (box) barcode.", "请扫描包装箱条码。"),
    "weigh": ("Put the parcel on the scale.", "请把包裹放到秤上。"),
    "reweigh_or_override": ("Check the items and the box, then weigh again, or call a supervisor to approve.",
                            "请检查商品和包装后重新称重，或请主管审批。"),
    "scan_second_badge": ("A second person taps their badge to confirm.", "请另一位同事刷工牌确认。"),
    "scan_supervisor_badge": ("A supervisor enters a reason and taps their badge.", "请主管填写原因并刷工牌。"),
    "supervisor_badge_to_approve": ("A supervisor taps their badge to approve.", "请主管刷工牌审批。"),
    "take_older_lot_or_override": ("Put this one back and take the older lot, or a supervisor approves this lot.",
                                   "请放回此件并拿取较早批次，或由主管审批此批次。"),
    "pack": ("Seal the parcel and confirm packed.", "请封箱并确认打包完成。"),
    "call_supervisor": ("Call a supervisor.", "请联系主管。"),
    "sign_out": ("Sign out and let the right person sign in.", "请退出登录，由相应人员登录。"),
    "scan_bin": ("Scan the bin label.", "请扫描库位标签。"),
    "scan_tote": ("Scan the tote.", "请扫描周转箱。"),
    "scan_parcel": ("Scan the next parcel's label.", "请扫描下一个包裹的面单。"),
    "done": ("Done.", "完成。"),
    "scan_older_lot": ("Scan the older lot to count it.", "请扫描较早批次以计数。"),
    "confirm_abandon": ("Tap your badge again (or press the confirm button) to stop the order and sign out; "
                        "anything else goes on with the order.", "再次刷卡（或按确认按钮）中止订单并退出；其他操作则继续此订单。"),
    "put_back_in_bin": ("Put it back in bin {bin}.", "请放回库位{bin}。"),
    "scan_label": ("Stick the label on the parcel and scan it.", "请把面单贴到包裹上并扫描面单。"),
    "fix_printer": ("The label prints as soon as the printer is ready (or press Print label).",
                    "打印机就绪后面单会自动打印（也可按“打印面单”）。"),
    "scan_waybill": ("Scan the order's waybill to open it.", "请扫描订单面单以打开订单。"),
    "put_box_on_scale": ("Put the empty box on the scale.", "请把空箱放到秤上。"),
    "place_item": ("Put the item in the box on the scale.", "请把商品放进秤上的箱子。"),
    "take_one_out": ("Take one out of the box.", "请从箱中取出一件。"),
    "swap_item": ("Take it out and put in the scanned item.", "请取出并放入所扫描的商品。"),
    "check_item": ("Take it out and check it against the scanned item.", "请取出并核对所扫描的商品。"),
    "put_it_back": ("Put it back in the box.", "请放回箱中。"),
    "interception_bin": ("Put the parcel in the interception bin.", "请把包裹放入拦截区。"),
    "interception_bin_held": ("Put the parcel in the interception bin until the WMS releases the order (or press Stop "
                              "order).", "请把包裹放入拦截区，等待WMS放行订单（或按“中止打包”）。"),
    "reprint_new_label": ("Press Reprint label for the new label and stick it over the old one.",
                          "请按“补打面单”打印新面单，并贴在旧面单上。"),
    "recheck_items": ("Change the parcel as shown, then go on (what you just did was not counted).",
                      "请按提示调整包裹后继续（刚才的操作未计入）。"),
    "supervisor_review": ("A supervisor taps their badge to approve it, or refuses it on the screen.",
                          "请主管刷工牌审批，或在屏幕上拒绝。"),
    "use_backup_carrier": ("Press Use backup carrier to label it for the backup, or put the parcel aside.",
                           "请按“改用备用承运商”改由备用承运商承运，或把包裹放到一边。"),
    "put_aside": ("Put the parcel aside and call a supervisor.", "请把包裹放到一边并联系主管。"),
    "": ("", ""),  # the answer says all there is to say (API and sign-in answers)
}

MESSAGES: dict[str, Text] = {
    # --- badge / session ---
    "signed_in": Text("ok", "scan_order", "Hello {name}.", "{name}，您好。"),
    "signed_out": Text("ok", "tap_badge", "{name} signed out ({reason}).", "{name}已退出登录（{reason}）。"),
    "unknown_badge": Text("error", "tap_badge", "This badge is not registered at this site.",
                          "此工牌未在本站点登记。"),
    "role_not_allowed": Text("error", "tap_badge", "{name} is a {role} and cannot sign in here.",
                             "{name}的角色是{role}，不能在此登录。"),
    "taken_over": Text("ok", "scan_item", "{name} took over the table from {previous}.",
                       "{name}已从{previous}接管此工作台。"),
    "badge_in_use": Text("error", "sign_out", "The station is in use by {name}; {name} taps again to sign out first.",
                         "此工作台正由{name}使用，请{name}先再次刷卡退出。"),
    "override_reason_required": Text("prompt", "scan_supervisor_badge",
                                     "Supervisor {name}: an approval needs a reason on the screen.",
                                     "主管{name}：审批需要在屏幕上填写原因。"),
    "not_allowed_now": Text("error", "scan_item", "{event_text} is not possible now: {state_text}.",
                            "现在不能{event_text}：{state_text}。"),
    "override_requested": Text("prompt", "supervisor_badge_to_approve", "Approval reason noted: {reason}.",
                               "已记录审批原因：{reason}。"),
    "wrong_code_here": Text("error", "scan_item", "A {kind} code ({code}) is not expected here.",
                            "此处不应扫描{kind}条码（{code}）。"),
    "bad_barcode": Text("error", "scan_item", "Barcode {code} could not be used ({reason}); it is kept for review.",
                        "条码{code}无法使用（{reason}），已保留待核查。"),
    # --- order ---
    "order_opened": Text("ok", "scan_item", "Order {order_id} is open: {lines:plural:line}, {units:plural:unit} in all.",
                         "订单{order_id}已打开：{lines}行，共{units}件。"),
    "unknown_order": Text("error", "scan_order", "Order or tote {code} is not known here; check the label.",
                          "订单或周转箱{code}未知，请核对标签。"),
    "order_not_packable": Text("error", "scan_order", "Order {order_id} is {order_status} and cannot be packed.",
                               "订单{order_id}状态为{order_status}，不能打包。"),
    "order_already_open": Text("error", "scan_item", "Order {order_id} is open; finish or cancel it first.",
                               "订单{order_id}正在处理中，请先完成或取消。"),
    "claimed_elsewhere": Text("error", "scan_order", "{order_id} is being packed at {table} by {person}.",
                              "订单{order_id}正在{table}由{person}打包。"),
    "claim_released": Text("error", "scan_order", "{person} released order {order_id} from this table: {reason}. "
                                                  "Stop packing it; keep its {units} scanned items with its tote.",
                           "{person}已将订单{order_id}从本工作台释放：{reason}。请停止打包，把已扫描的{units}件商品与周转箱放在一起。"),
    "order_not_pickable": Text("error", "scan_order", "Order {order_id} is {order_status} and cannot be picked.",
                               "订单{order_id}状态为{order_status}，不能拣货。"),
    # --- interception (订单拦截: core.order_state, core.interception) ---
    "intercepted": Text("intercepted", "interception_bin", "Order {order_id} was {what} by the WMS at {time} ({reason}).",
                        "订单{order_id}已于{time}被WMS{what}（{reason}）。"),
    "order_changed": Text("prompt", "recheck_items",
                          "Order {order_id} was changed by the WMS at {time} (revision {revision}): {todo}.",
                          "订单{order_id}已于{time}被WMS修改（第{revision}版）：{todo}。"),
    "label_outdated": Text("intercepted", "reprint_new_label",
                           "Order {order_id} was changed by the WMS at {time} (revision {revision}): label {waybill} "
                           "has the old address or carrier.",
                           "订单{order_id}已于{time}被WMS修改（第{revision}版）：面单{waybill}是旧的地址或承运商。"),
    "conflict_resolved": Text("ok", "", "The conflict of {order_id} ({action} refused: the WMS had cancelled it) is "
                                        "resolved.", "订单{order_id}的冲突（{action}被拒：WMS已取消该订单）已处理。"),
    "conflict_note_missing": Text("error", "", "Resolving a conflict needs a note of what was done with the parcel.",
                                  "处理冲突需要填写对包裹的处理说明。"),
    "conflict_already_resolved": Text("ok", "", "The conflict of {order_id} was already resolved by {by}.",
                                      "订单{order_id}的冲突已由{by}处理。"),
    "unknown_conflict": Text("error", "", "No open conflict {confirmation_id}.", "没有待处理的冲突{confirmation_id}。"),
    # --- site policies (core.review_rules, core.carrier_rules, station.policies) ---
    "review_required": Text("review", "supervisor_review",
                            "Order {order_id} needs a supervisor before its label: {rules}.",
                            "订单{order_id}需主管审核后才能打印面单：{rules}。"),
    "review_pending": Text("review", "supervisor_review",
                           "Order {order_id} is waiting for a supervisor's review ({rules}): no label until then.",
                           "订单{order_id}正在等待主管审核（{rules}），审核前不能打印面单。"),
    "review_approved": Text("ok", "scan_item", "Order {order_id} approved by {supervisor}: {reason}.",
                            "订单{order_id}已由{supervisor}审核通过：{reason}。"),
    "review_refused": Text("blocked", "put_aside", "Order {order_id} refused by {supervisor}: {reason}. It will not "
                                                   "ship from this table.",
                           "订单{order_id}被{supervisor}审核拒绝：{reason}。此订单不在本台发货。"),
    "review_was_refused": Text("error", "scan_order", "Order {order_id} was refused at review by {supervisor} "
                                                      "({reason}); it is not packed here.",
                               "订单{order_id}已被{supervisor}审核拒绝（{reason}），不在此打包。"),
    "review_decision_requested": Text("review", "supervisor_badge_to_approve",
                                      "Supervisor decision noted ({decision}): {reason}.",
                                      "已记录主管决定（{decision}）：{reason}。"),
    "review_not_pending": Text("error", "", "No order waiting for a review here.", "此处没有等待审核的订单。"),
    "review_decision_unknown": Text("error", "", "A review decision is approve or refuse (got {decision}).",
                                    "审核决定只能是“通过”或“拒绝”（收到{decision}）。"),
    "order_cancel_needs_supervisor": Text("review", "supervisor_badge_to_approve",
                                          "Cancelling the whole order {order_id} needs a supervisor ({reason}).",
                                          "取消整个订单{order_id}需要主管批准（{reason}）。"),
    "carrier_suspended": Text("error", "use_backup_carrier",
                              "{carrier} takes no parcels to {region} now ({why}{because}): no label for it; the "
                              "backup carrier is {backup}.",
                              "{carrier}目前不承运到{region}的包裹（{why}{because}），不能打印其面单；备用承运商为{backup}。"),
    "carrier_suspended_no_backup": Text("error", "put_aside",
                                        "{carrier} takes no parcels to {region} now ({why}{because}) and no backup "
                                        "carrier can take it.",
                                        "{carrier}目前不承运到{region}的包裹（{why}{because}），且没有可用的备用承运商。"),
    "carrier_switched": Text("ok", "weigh", "Order {order_id} now goes with {carrier} instead of {booked} ({why}).",
                             "订单{order_id}已由{booked}改为{carrier}承运（{why}）。"),
    "carrier_no_switch": Text("error", "", "No carrier switch is offered for order {order_id} now.",
                              "订单{order_id}当前没有可改用的承运商。"),
    # --- items ---
    "unknown_item": Text("error", "scan_item", "Barcode {code} is not a known item; put it aside.",
                         "条码{code}不是已知商品，请放到一边。"),
    "item_not_in_order": Text("error", "scan_item", "{sku} ({name}) is not in order {order_id}; put it aside.",
                              "{sku}（{name}）不在订单{order_id}中，请放到一边。"),
    "over_quantity": Text("error", "scan_item",
                          "One {sku} too many: order {order_id} needs {ordered} and {ordered} are already in; put it back.",
                          "{sku}多了一件：订单{order_id}需要{ordered}件，已全部装入，请放回。"),
    "serial_already_packed": Text("error", "call_supervisor",
                                  "Serial {serial} of {sku} was already packed; put this unit aside.",
                                  "{sku}的序列号{serial}已经打包过，请把此件放到一边。"),
    "lot_required": Text("error", "scan_item", "{sku} is lot-controlled: scan the barcode that carries the lot (batch).",
                         "{sku}需要批次管理：请扫描带批次号的条码。"),
    "lot_expired": Text("error", "scan_item", "Lot {lot} of {sku} expired on {expires}; do not use it, put it aside.",
                        "{sku}的批次{lot}已于{expires}过期，请勿使用并放到一边。"),
    "lot_unknown": Text("prompt", "take_older_lot_or_override", "Lot {lot} of {sku} is not known at this site.",
                        "{sku}的批次{lot}在本站点未登记。"),
    "fifo_older_lot": Text("prompt", "take_older_lot_or_override",
                           "{policy}: lot {older_lot} of {sku} ({basis} {older_date}) in bin {older_bin} goes before lot {lot} ({basis} {date}).",
                           "{policy}：{sku}的批次{older_lot}（{basis}{older_date}，库位{older_bin}）应先于批次{lot}（{basis}{date}）出库。"),
    "second_badge_required": Text("prompt", "scan_second_badge", "{sku} ({name}) is a special item.",
                                  "{sku}（{name}）是特殊商品。"),
    "second_badge_same_person": Text("error", "scan_second_badge",
                                     "The second badge must be someone other than {name}.",
                                     "第二个工牌必须是{name}以外的人。"),
    "second_badge_role": Text("error", "scan_second_badge", "{name} is a {role} and cannot confirm special items.",
                              "{name}的角色是{role}，不能确认特殊商品。"),
    "item_accepted": Text("ok", "scan_item", "{sku} {name}: {packed} of {ordered}.", "{sku} {name}：{packed}/{ordered}。"),
    "item_put_back": Text("ok", "scan_item", "{sku} lot {lot} put back; it was not counted.",
                          "{sku}批次{lot}已放回，未计数。"),
    "lot_swap": Text("prompt", "scan_older_lot",
                     "Put lot {lot} back; take lot {older_lot} from bin {older_bin}. {sku}: {packed} of {ordered} counted.",
                     "请放回批次{lot}，从库位{older_bin}拿取批次{older_lot}。{sku}：已计{packed}/{ordered}。"),
    # --- overrides ---
    "override_not_supervisor": Text("error", "scan_supervisor_badge", "{name} is a {role}; only a supervisor can approve.",
                                    "{name}的角色是{role}，只有主管可以审批。"),
    "override_self": Text("error", "scan_supervisor_badge", "{name} cannot approve their own work; another supervisor must.",
                          "{name}不能审批自己的操作，请由另一位主管审批。"),
    "ambiguous_reference": Text("error", "call_supervisor", "Refused: {what}; the reference data is ambiguous, "
                                "so nothing is guessed.", "已拒绝：{what}；参考数据有歧义，系统不作猜测。"),
    "presence_required": Text("error", "scan_supervisor_badge",
                              "A typed or scanned badge code does not approve anything: tap the badge on this station's "
                              "reader, or give the badge and PIN.",
                              "输入或扫描的工牌号不能审批：请在本工作站的读卡器上刷工牌，或提供工牌号和密码。"),
    "typed_badge_sign_in_off": Text("error", "tap_badge", "This site signs in by tapping the badge on the reader, "
                                    "not by typing or scanning its code.",
                                    "本现场须在读卡器上刷工牌登录，不能输入或扫描工牌号。"),
    "approval_expired": Text("error", "scan_supervisor_badge", "The approval request is older than {seconds} s; "
                             "enter the reason again.", "审批请求已超过{seconds}秒，请重新填写原因。"),
    "override_reason_missing": Text("error", "scan_supervisor_badge", "An approval needs a reason.",
                                    "审批需要填写原因。"),
    "lot_overridden": Text("ok", "scan_item", "Lot {lot} of {sku} approved by {supervisor}: {reason}.",
                           "{sku}批次{lot}已由{supervisor}审批：{reason}。"),
    # --- packaging and weighing ---
    "packaging_chosen": Text("ok", "weigh", "Packaging {code} ({name}, {tare_g} g).", "包装{code}（{name}，{tare_g}克）。"),
    "unknown_packaging": Text("error", "choose_packaging", "Packaging {code} is not known here.",
                              "包装{code}未知。"),
    "weight_ok": Text("ok", "pack", "Weight OK: {measured_g} g, expected {expected_g} g ({diff_g} g, {diff_pct} %).",
                      "重量合格：{measured_g}克，预期{expected_g}克（{diff_g}克，{diff_pct}%）。"),
    "weight_out_of_tolerance": Text("blocked", "reweigh_or_override",
                                    "Weight {measured_g} g is {diff_g} g ({diff_pct} %) off the expected {expected_g} g; "
                                    "allowed ±{allowed_g} g.",
                                    "重量{measured_g}克与预期{expected_g}克相差{diff_g}克（{diff_pct}%），"
                                    "允许±{allowed_g}克。"),
    "weight_unstable": Text("prompt", "weigh", "The scale is not steady yet; keep the parcel still.",
                            "秤尚未稳定，请保持包裹静止。"),
    "no_catalog_weight": Text("blocked", "scan_supervisor_badge",
                              "No catalog weight for {skus}: the weight cannot be checked automatically.",
                              "{skus}没有目录重量，无法自动核重。"),
    "weight_missing_named": Text("blocked", "reweigh_or_override", "The parcel is {gap_g} g light: is {what} in it?",
                                 "包裹轻了{gap_g}克：{what}是否已装入？"),
    "contents_missing": Text("prompt", "scan_item", "Still to pack: {missing}.", "仍需装入：{missing}。"),
    # --- per-item weighing (core.per_item) ---
    "box_tare_ok": Text("ok", "scan_item", "Empty box {box}: {measured_g} g (expected {expected_g} g).",
                        "空箱{box}：{measured_g}克（预期{expected_g}克）。"),
    "box_tare_wrong": Text("error", "put_box_on_scale",
                           "The box weighs {measured_g} g; an empty {box} weighs {expected_g} g (±{allowed_g} g): "
                           "is it the right box, and empty?",
                           "箱子重{measured_g}克，空的{box}应重{expected_g}克（±{allowed_g}克）：请确认箱型正确且箱内为空。"),
    "box_first": Text("error", "put_box_on_scale", "Put the empty box ({box}) on the scale before scanning items.",
                      "扫描商品前请先把空箱（{box}）放到秤上。"),
    "place_item": Text("ok", "place_item", "Put {name} ({sku}, {unit_g} g) in the box.",
                       "请把{name}（{sku}，{unit_g}克）放进箱子。"),
    "item_placed": Text("ok", "scan_item", "{name} in the box: {gain_g} g (expected {unit_g} g); {placed} of {units}.",
                        "{name}已装入：{gain_g}克（预期{unit_g}克）；{placed}/{units}件。"),
    "all_placed": Text("ok", "weigh", "All {units} items are in the box ({total_g} g).", "全部{units}件已装入（{total_g}克）。"),
    "item_not_placed": Text("error", "place_item", "{name} ({sku}) was scanned but is not in the box yet.",
                            "{name}（{sku}）已扫描但尚未放入箱中。"),
    "item_placed_twice": Text("error", "take_one_out", "{gain_g} g is two of {name} ({unit_g} g each).",
                              "{gain_g}克是两件{name}（每件{unit_g}克）。"),
    "item_look_alike": Text("error", "swap_item",
                            "{gain_g} g weighs like {other_name} ({other_unit_g} g), not the scanned {name} ({unit_g} g).",
                            "{gain_g}克与{other_name}（{other_unit_g}克）相符，而不是所扫描的{name}（{unit_g}克）。"),
    "item_weight_wrong": Text("error", "check_item", "{gain_g} g does not match {name} ({unit_g} g ±{allowed_g} g).",
                              "{gain_g}克与{name}（{unit_g}克±{allowed_g}克）不符。"),
    "item_removed": Text("error", "put_it_back", "{loss_g} g was taken out of the box.", "箱中被取出了{loss_g}克。"),
    "unscanned_change": Text("error", "scan_item", "The box changed by {gain_g} g without a scan: take it out, or scan it first.",
                             "箱子重量变化{gain_g}克但未扫描：请取出，或先扫描。"),
    "reweigh": Text("ok", "weigh", "Weighing again.", "重新称重。"),
    "weight_overridden": Text("ok", "pack", "Weight approved by {supervisor}: {reason}.",
                              "重量已由{supervisor}审批：{reason}。"),
    "packed": Text("ok", "scan_order", "Order {order_id} packed.", "订单{order_id}打包完成。"),
    "cancelled": Text("ok", "scan_order", "Packing of {order_id} stopped ({reason}); it is back in the queue.",
                      "订单{order_id}已中止打包（{reason}），已回到队列。"),
    "order_cancelled": Text("ok", "scan_order",
                            "Order {order_id} cancelled ({reason}): it will not be packed; put its items aside for restocking.",
                            "订单{order_id}已取消（{reason}），不再打包；请把商品放到一边等待回库。"),
    "abandon_confirm": Text("prompt", "confirm_abandon", "Order {order_id} has {units:plural:counted_unit} that would be lost.",
                            "订单{order_id}已计数{units}件，退出将作废。"),
    "cancel_reason_missing": Text("error", "scan_item", "Cancelling needs a reason.", "取消需要填写原因。"),
    # --- picking ---
    # --- cartons and the label gate (core.labels, station.labels) ---
    "carton_closing": Text("ok", "weigh", "Carton {carton}: {units:plural:unit} in box {code}.",
                           "第{carton}箱：{units}件，包装{code}。"),
    "carton_empty": Text("error", "scan_item", "Carton {carton} has no items yet.", "第{carton}箱还没有商品。"),
    "carton_needs_box": Text("error", "choose_packaging", "Carton {carton} needs its box first.",
                             "第{carton}箱需要先选择包装箱。"),
    "carton_weighed": Text("error", "reweigh_or_override",
                           "Carton {carton} is weighed: weigh it again before adding items.",
                           "第{carton}箱已称重：加入商品前请重新称重。"),
    "carton_one_waybill": Text("error", "weigh", "Weigh-and-ship: order {order_id} ships in one carton with its waybill.",
                               "称重发货：订单{order_id}使用其面单整单发货，不能分箱。"),
    "carton_packed": Text("ok", "scan_item", "Carton {carton} of {order_id} packed ({units:plural:unit}, waybill {waybill}).",
                          "订单{order_id}第{carton}箱已打包（{units}件，面单{waybill}）。"),
    "shipped": Text("ok", "scan_order", "Order {order_id} shipped: waybill {waybill}, {weight_g} g.",
                    "订单{order_id}已称重发货：面单{waybill}，{weight_g}克。"),
    "label_first": Text("error", "fix_printer", "The parcel needs its label first (waybill {waybill}).",
                        "包裹需要先打印面单（面单{waybill}）。"),
    "label_printed": Text("ok", "scan_label", "{passed} — label {waybill} printed for carton {carton} of {order_id}.",
                          "{passed}——订单{order_id}第{carton}箱面单{waybill}已打印。"),
    "label_printed_offline": Text("prompt", "scan_label",
                                  "Upstream is unreachable: label {waybill} printed from a pre-issued waybill "
                                  "({left:plural:waybill_left} for {order_id}).",
                                  "上游系统无法连接：已使用预分配面单{waybill}打印（订单{order_id}剩余{left}个）。"),
    "label_scan_reminder": Text("prompt", "scan_label", "Label {waybill} is not scanned on the parcel yet.",
                                "面单{waybill}尚未在包裹上扫描。"),
    "label_reprinted": Text("prompt", "scan_label", "Label {waybill} printed again (reprint {reprints}).",
                            "面单{waybill}已重新打印（第{reprints}次补打）。"),
    "label_reprinted_new": Text("prompt", "scan_label", "New label {waybill} printed for order {order_id} (revision "
                                                        "{revision}); throw away label {old_waybill}.",
                                "已为订单{order_id}打印新面单{waybill}（第{revision}版），请作废旧面单{old_waybill}。"),
    "label_other_order": Text("error", "scan_label",
                              "WRONG LABEL: {code} belongs to order {owner}, not to {order_id}. Take it off; "
                              "this parcel's label is {waybill}.",
                              "贴错面单：{code}属于订单{owner}，不是{order_id}。请撕下；本包裹的面单是{waybill}。"),
    "label_wrong": Text("error", "scan_label", "{code} is not this parcel's label ({waybill}).",
                        "{code}不是本包裹的面单（{waybill}）。"),
    "unknown_waybill": Text("error", "scan_waybill", "Waybill {code} is not known at this station.",
                            "本工作台不认识面单{code}。"),
    "waybill_opens_order": Text("error", "scan_waybill",
                                "Weigh-and-ship: {code} is not a waybill; orders open with their pre-printed waybill.",
                                "称重发货：{code}不是面单；订单须扫描预打印面单打开。"),
    "printer_not_ready": Text("error", "fix_printer", "The label printer cannot print: {problems}.",
                              "面单打印机无法打印：{problems}。"),
    "printer_fault": Text("error", "fix_printer", "Label printer: {fault}.", "面单打印机：{fault}。"),
    "printer_unreachable": Text("error", "fix_printer", "The label printer does not answer ({detail}).",
                                "面单打印机无响应（{detail}）。"),
    "label_no_waybill_left": Text("error", "call_supervisor",
                                  "Upstream is unreachable and no pre-issued waybill of {order_id} is left: "
                                  "no label can be printed.",
                                  "上游系统无法连接，且订单{order_id}没有剩余的预分配面单：无法打印面单。"),
    "label_refused": Text("error", "call_supervisor", "Upstream refused the label: {problem}.",
                          "上游系统拒绝了面单请求：{problem}。"),
    "no_label": Text("error", "", "No label {waybill} was printed at this station.", "本工作台没有打印过面单{waybill}。"),
    "pick_started": Text("ok", "scan_bin", "Pick order {order_id}: {tasks:plural:bin_stop} to visit; next bin {bin}.",
                         "拣货订单{order_id}：共{tasks}个库位，下一个库位{bin}。"),
    "stock_short": Text("blocked", "call_supervisor", "Not enough usable stock of {sku}: {missing} missing.",
                        "{sku}可用库存不足：缺{missing}件。"),
    "wrong_bin": Text("error", "scan_bin", "Bin {bin} is wrong: go to bin {expected_bin}.",
                      "库位{bin}错误：请前往库位{expected_bin}。"),
    "bin_ok": Text("ok", "scan_item", "Bin {bin}: take {qty} x {sku} ({name}), lot {lot}.",
                   "库位{bin}：拿取{qty}件{sku}（{name}），批次{lot}。"),
    "pick_not_in_order": Text("error", "scan_item", "{sku} ({name}) is not in order {order_id}; put it back in bin {bin}.",
                              "{sku}（{name}）不在订单{order_id}中，请放回库位{bin}。"),
    "wrong_item": Text("error", "scan_item", "{sku} is not to be picked from bin {bin}; take {expected_sku}.",
                       "{sku}不应从库位{bin}拣取，请拿取{expected_sku}。"),
    "item_picked": Text("ok", "scan_item", "{sku}: {picked} of {qty} from bin {bin}.",
                        "{sku}：库位{bin}已拣{picked}/{qty}。"),
    "go_to_bin": Text("ok", "scan_bin", "Bin {done_bin} done; go to bin {bin}.", "库位{done_bin}完成，请前往库位{bin}。"),
    "pick_complete": Text("ok", "scan_tote", "All items picked; load them into tote {tote}.",
                          "已全部拣完，请装入周转箱{tote}。"),
    "wrong_tote": Text("error", "scan_tote", "Tote {tote} is wrong: use tote {expected_tote}.",
                       "周转箱{tote}错误：请使用周转箱{expected_tote}。"),
    "order_picked": Text("ok", "done", "Order {order_id} picked into tote {tote}.", "订单{order_id}已拣入周转箱{tote}。"),
    # --- audit chain, evidence, dock (station/audit_chain.py, station/evidence.py, station/dock.py) ---
    "audit_intact": Text("ok", "", "Audit log intact: {rows:plural:row}; last row {head_id}, hash {head_hash}.",
                         "审计日志完整：共{rows}行；最后一行{head_id}，哈希{head_hash}。"),
    "audit_tampered": Text("error", "", "Audit log NOT intact ({count:plural:problem}): {problems}.",
                           "审计日志已被篡改（{count}处问题）：{problems}。"),
    "no_station_db": Text("error", "", "No station database at {path}: check `--db` or `--config`.",
                          "{path}处没有工作站数据库：请检查`--db`或`--config`。"),
    "evidence_unknown_order": Text("error", "", "Order {order_id} has no evidence at this station.",
                                   "订单{order_id}在此工作站没有证据记录。"),
    "export_needs_supervisor": Text("error", "",
                                    "An evidence export needs a second verification: a supervisor's badge and PIN.",
                                    "导出证据需要二次验证：请提供主管的工牌号和密码。"),
    "export_not_supervisor": Text("error", "",
                                  "{name} is a {role}; only a supervisor's badge and PIN allow an evidence export.",
                                  "{name}的角色是{role}，只有主管的工牌号和密码才能导出证据。"),
    "evidence_exported": Text("ok", "", "Evidence of {order_id} written to {folder} ({files:plural:file}).",
                              "订单{order_id}的证据已写入{folder}（{files}个文件）。"),
    # --- the database's schema steps (station/migrations) ---
    "db_from_the_future": Text("error", "", "{path} was written by a newer packgate: its {part} schema is at version "
                                            "{found}, this packgate knows up to version {known}. Run that packgate or "
                                            "a newer one, or restore a backup this version wrote.",
                               "{path}由更新版本的packgate写入：其{part}结构为第{found}版，本packgate最高只支持第{known}版。"
                               "请运行该版本或更新版本的packgate，或恢复本版本写入的备份。"),
    "db_current": Text("ok", "", "The station database is up to date: {versions}.", "工作站数据库已是最新：{versions}。"),
    "db_steps_pending": Text("prompt", "", "{count} schema steps not done yet; the agent does them when it next starts: "
                                          "{steps}.", "尚有{count}个结构升级步骤未完成，代理程序下次启动时执行：{steps}。"),
    "dock_batch_opened": Text("ok", "scan_parcel", "Hand-over {batch_id} to {carrier} ({vehicle}) opened.",
                              "交接批次{batch_id}（{carrier}，{vehicle}）已开始。"),
    "dock_batch_bad": Text("error", "", "{problem}", "交接批次无效：{problem}"),
    "dock_unknown_batch": Text("error", "", "No hand-over batch {batch_id}.", "没有交接批次{batch_id}。"),
    "dock_batch_closed": Text("error", "", "Hand-over {batch_id} is closed; open a new one.",
                              "交接批次{batch_id}已关闭，请新建批次。"),
    "dock_unknown_parcel": Text("error", "scan_parcel", "Label {code} is not a parcel packed here; put it aside.",
                                "面单{code}不是本站打包的包裹，请放到一边。"),
    "dock_already_handed_over": Text("error", "scan_parcel", "Order {order_id} was already handed over in {batch_id}.",
                                     "订单{order_id}已在批次{batch_id}中交接。"),
    "dock_hub_offline": Text("error", "scan_parcel", "The site hub cannot be reached and {code} is not a parcel packed "
                                                     "at this table, so it cannot be checked. Put it aside and scan it "
                                                     "again when the hub is back.",
                             "无法连接现场中枢，{code}不是本工作台打包的包裹，无法核验。请放到一边，待中枢恢复后再扫描。"),
    "dock_not_packed": Text("error", "scan_parcel", "Order {order_id} is {order_status}, not packed and passed: "
                                                    "it must not leave; take it back to packing.",
                            "订单{order_id}状态为{order_status}，未完成打包校验：不得出库，请送回打包台。"),
    "dock_wrong_carrier": Text("error", "scan_parcel", "Order {order_id} goes with {carrier}, not {batch_carrier}; "
                                                       "put it with {carrier}'s parcels.",
                               "订单{order_id}应交{carrier}，不是{batch_carrier}；请放到{carrier}的包裹处。"),
    "dock_parcel_added": Text("ok", "scan_parcel", "Order {order_id} loaded for {carrier} ({batch_id}).",
                              "订单{order_id}已装车交{carrier}（{batch_id}）。"),
    "dock_batch_handed_over": Text("ok", "", "Hand-over {batch_id} closed: {parcels:plural:parcel} to {carrier}.",
                                   "交接批次{batch_id}已关闭：{parcels}件包裹交{carrier}。"),
    "dock_batch_empty": Text("error", "scan_parcel", "Hand-over {batch_id} has no parcels yet.",
                             "交接批次{batch_id}还没有包裹。"),
    # --- requests, storage, sign-in, escalations (answers of the API rather than of a table event) ---
    "bad_request": Text("error", "", "{problem}", "请求无效：{problem}"),
    "too_large": Text("error", "", "{field} is too long: at most {limit} characters.", "{field}过长：最多{limit}个字符。"),
    "body_too_large": Text("error", "", "The request body is too large: at most {limit} bytes.",
                           "请求内容过大：最多{limit}字节。"),
    "key_required": Text("error", "", "key is required: send a client-chosen idempotency key (8 to 128 characters) "
                         "with every action.", "缺少key：每个操作都须附带客户端生成的幂等键（8至128个字符）。"),
    "too_many_streams": Text("error", "", "The station already serves {limit} live pages; close one and reload.",
                             "工作站已在为{limit}个实时页面服务，请关闭一个后刷新。"),
    "method_not_allowed": Text("error", "", "{method} is not allowed on {path}.", "{path}不允许{method}请求。"),
    "bad_host": Text("error", "", "Host or Origin {host} is not one this station answers to (web.allowed_hosts).",
                     "主机或来源{host}不在本工作站允许的列表中（`web.allowed_hosts`）。"),
    "scale_not_responding": Text("error", "weigh", "The scale is not responding (no reading for more than {seconds} s); "
                                 "check its cable and power.", "秤无响应（超过{seconds}秒没有读数），请检查连线和电源。"),
    "bad_json": Text("error", "", "{problem}", "请求无效：{problem}"),
    "bad_page_number": Text("error", "", "{name} must be a whole number from {low} to {high} (got {value}).",
                            "参数{name}必须是{low}到{high}之间的整数（收到{value}）。"),
    "bad_cursor": Text("error", "", "The cursor {value} was not given out by this list; start again from the first page.",
                       "游标{value}不是此列表给出的，请从第一页重新开始。"),
    "bad_list": Text("error", "", "There is no list named {value}.", "没有名为{value}的列表。"),
    "key_reused": Text("error", "", "Key {key} was already used for a different action.", "键{key}已用于另一个操作。"),
    "storage": Text("error", "", "NOT SAVED: the station could not write its database ({detail}). "
                                 "Call IT; do not send the parcel.",
                    "未保存：工作站无法写入数据库（{detail}）。请联系IT，不要发出包裹。"),
    "login_locked": Text("error", "", "Too many wrong PINs for this badge: try again in {wait} s or ask a supervisor.",
                         "此工卡密码错误次数过多：请{wait}秒后再试或联系主管。"),
    "bad_login": Text("error", "", "Badge code or PIN is wrong.", "工卡号或密码错误。"),
    "not_signed_in": Text("error", "", "{problem}", "{problem}"),
    "no_pick": Text("error", "", "Choose an order to pick first.", "请先选择要拣货的订单。"),
    "not_supervisor": Text("error", "", "{problem}", "{problem}"),
    "unknown_escalation": Text("error", "", "No escalation {escalation_id}.", "没有升级{escalation_id}。"),
    # --- the suspect-weight review (station/weights.py) ---
    "weight_accepted": Text("ok", "", "{sku}: the learned {value_g} g is now its weight (was {before_g} g); "
                            "the WMS is told.", "{sku}：学习所得的{value_g}克已成为其重量（原为{before_g}克），已通知WMS。"),
    "weight_reset": Text("ok", "", "{sku}: back to the catalogue weight; its learning starts again.",
                         "{sku}：恢复商品目录重量，重新开始学习。"),
    "weight_not_suspect": Text("error", "", "{sku} is not on the suspect-weight list (any more).",
                               "{sku}不在（或已不在）可疑重量列表中。"),
    "weight_decided_elsewhere": Text("error", "", "{sku} was decided meanwhile at another table or on the site "
                                     "dashboard; the list is reloaded.", "{sku}已在其他工作台或现场看板上决定，列表已刷新。"),
    "weight_decision_unknown": Text("error", "", "Unknown weight decision {action!r}: `accept` or `reset`.",
                                    "未知的重量决定{action!r}：应为`accept`或`reset`。"),
    "already_acknowledged": Text("ok", "", "Already acknowledged by {by}.", "已由{by}确认。"),
    "acknowledged": Text("ok", "", "Escalation of {order_id} acknowledged.", "订单{order_id}的升级已确认。"),
    "hub_unreachable": Text("error", "", "The site hub cannot be reached ({detail}); try again when it is back.",
                            "无法连接现场中枢（{detail}），请待其恢复后再试。"),
    "pda_signed_out": Text("ok", "", "Signed out.", "已退出登录。"),
    "csrf": Text("error", "", "Missing or wrong CSRF token: reload the page (or send an API token).",
                 "CSRF令牌缺失或错误：请刷新页面（或使用API令牌）。"),
    "not_found": Text("error", "", "No such page or endpoint: {path}", "没有此页面或接口：{path}"),
    "internal": Text("error", "", "Internal error; the action was not recorded. See the station log.",
                     "内部错误，操作未记录。请查看工作站日志。"),
}
NEXT_STEPS.update(returns_texts.NEXT_STEPS)  # a return at the table (core/returns.py)
MESSAGES.update({code: Text(*row) for code, row in returns_texts.MESSAGES.items()})


# weight gate figure (core.weight_gate.FIGURES) -> (en, zh): which figure a weighing was judged on
BASIS_WORDS: dict[str, tuple[str, str]] = {
    "signature": ("expected {expected_g} g from {basis_n} earlier parcels, ±{allowed_g} g",
                  "预期{expected_g}克（依据此前{basis_n}个相同包裹），允许±{allowed_g}克"),
    "learned": ("expected {expected_g} g from its items' learned weights (at least {basis_n} parcels each), ±{allowed_g} g",
                "预期{expected_g}克（依据所含商品的学习重量，每种至少{basis_n}个包裹），允许±{allowed_g}克"),
    "catalogue": ("expected {expected_g} g from the catalogue, ±{allowed_g} g", "预期{expected_g}克（依据商品目录），允许±{allowed_g}克"),
}


def basis_words(data: dict[str, Any], lang: str) -> str:
    """The figure a weighing verdict used, in words ("expected 213 g from 41 earlier parcels, ±6 g"), from its data."""
    figure = data.get("basis", "catalogue")
    return texts.fill(texts.text(lang, f"basis:{figure}", BASIS_WORDS[figure][lang == "zh"]), data, lang)


# rule code -> (en, zh): what a field of a request must be (``bad_field``'s ``rule``)
FIELD_RULES: dict[str, tuple[str, str]] = {
    "decimal_string": ("a plain decimal string of ASCII digits such as \"215\" or \"215.5\"",
                       "由ASCII数字组成的十进制字符串，如\"215\"或\"215.5\""),
    "not_a_json_number": ("a decimal string such as \"990.5\", not a JSON number (floats are not exact)",
                          "十进制字符串（如\"990.5\"），不能是JSON数字或浮点数（浮点数不精确）"),
    "in_scale_range": ("within the scale's range (0 to scale.capacity_g)", "在秤的量程内（0至scale.capacity_g）"),
    "boolean": ("a JSON boolean (true or false)", "JSON布尔值（true或false）"),
    "string": ("a string", "字符串"),
    "integer_id": ("a whole number of at most 18 digits", "不超过18位的整数"),
    "at_most_16_fields": ("an object of at most 16 fields", "不超过16个字段的对象"),
    "day": ("a day written YYYY-MM-DD, e.g. 2026-03-14", "YYYY-MM-DD格式的日期，如2026-03-14"),
}


def bad_field(field_name: str, rule: str) -> dict[str, Any]:
    """The ``bad_request``-kind answer naming the field and the rule it breaks."""
    en, zh = FIELD_RULES[rule]
    return answer("bad_request", field=field_name, problem=f"{field_name} must be {en}", problem_zh=f"{field_name}必须是{zh}")


# workflow event / state -> (en, zh) for people: "scanning an item is not possible now: the parcel is blocked"
EVENT_WORDS: dict[str, tuple[str, str]] = {
    "badge": ("Tapping a badge", "刷工牌"), "open_order": ("Opening an order", "打开订单"),
    "scan_item": ("Scanning an item", "扫描商品"), "choose_packaging": ("Choosing a box", "选择包装"),
    "second_badge": ("A second badge", "第二人刷卡"), "fifo_take_older": ("Taking the older lot", "拿取较早批次"),
    "put_back": ("Putting back", "放回"), "fifo_override": ("Approving a lot", "审批批次"),
    "weigh": ("Weighing", "称重"), "reweigh": ("Weighing again", "重新称重"),
    "supervisor_override": ("An override", "主管放行"), "pack": ("Confirming packed", "确认打包"),
    "cancel": ("Stopping this order", "中止订单"), "sign_out": ("Signing out", "退出登录"),
    "scan_bin": ("Scanning a bin", "扫描库位"), "scan_tote": ("Scanning the tote", "扫描周转箱"),
    "close_carton": ("Closing a carton", "封箱"), "label_printed": ("A printed label", "打印面单"),
    "scan_label": ("Scanning a label", "扫描面单"), "reprint": ("Reprinting the label", "补打面单"),
}
# what is wrong with a request (``problem=texts.Word("problem:<key>")``)
PROBLEMS: dict[str, tuple[str, str]] = {
    "not_object": ("the request must be a JSON object", "请求必须是JSON对象"),
    "payload_object": ("payload must be an object", "payload必须是对象"),
    "key_length": ("key must be 8 to 128 characters", "key必须为8到128个字符"),
    "image_sha256": ("image_sha256 must be 64 lower-case hex characters", "image_sha256必须是64个小写十六进制字符"),
    "grams_float": ("payload.grams must be a decimal string such as \"990.5\", not a JSON number (floats are not exact)",
                    "payload.grams必须是十进制字符串（如\"990.5\"），不能是浮点数"),
}
STATE_WORDS: dict[str, tuple[str, str]] = {
    "idle": ("nobody is signed in", "无人登录"), "signed_in": ("no order is open", "尚未打开订单"),
    "order_open": ("the order's items are still to scan", "订单商品尚未扫描"),
    "scanning": ("items are still to scan", "仍有商品待扫描"),
    "awaiting_fifo_decision": ("a lot decision is waiting", "正在等待批次决定"),
    "awaiting_second_badge": ("a second badge is waiting", "正在等待第二人刷卡"),
    "ready_to_weigh": ("the parcel is waiting for the scale", "包裹等待称重"),
    "blocked": ("the parcel is blocked", "包裹被拦截"), "weighed_ok": ("the parcel is weighed", "包裹已称重"),
    "packed": ("the order is packed", "订单已打包"), "cancelled": ("the order was stopped", "订单已中止"),
    "to_bin": ("go to the bin first", "请先前往库位"), "at_bin": ("items of this bin are still to pick", "此库位商品尚未拣完"),
    "to_tote": ("the tote is still to scan", "尚未扫描周转箱"), "picked": ("the order is picked", "订单已拣完"),
    "label_printed": ("the label waits for its scan on the parcel", "面单等待在包裹上扫描"),
}

# printer condition (device.printer.conditions.CONDITIONS) -> what it is and what to do, (en, zh); the catalog's
# ``printer:<condition>`` entries. A fault stops the label (``printer_not_ready``, each fault its own
# ``printer_fault``); a warning (ribbon low, media low, ...) is shown before it stops the table.
PRINTER_WORDS: dict[str, tuple[str, str]] = {
    "paper_out": ("paper out: load labels and close the print head", "缺纸：请装入面单纸并合上打印头"),
    "paper_jam": ("paper jam: clear the label path and press feed", "卡纸：请清理走纸通道并按进纸键"),
    "head_open": ("print head open: close the print head", "打印头未合上：请合上打印头"),
    "ribbon_out": ("ribbon out: load a new ribbon", "碳带用完：请更换碳带"),
    "ribbon_jam": ("ribbon jam: clear the ribbon path and rewind the ribbon tight", "碳带卡住：请清理碳带通道并把碳带卷紧"),
    "label_waiting": ("label waiting: take the printed label off the printer", "面单待取：请取走打印好的面单"),
    "rewinder_full": ("rewinder full: empty the label rewinder", "回卷器已满：请清空回卷器"),
    "paused": ("paused: press pause (or feed) on the printer", "已暂停：请按打印机上的暂停（或进纸）键"),
    "cover_open": ("cover open: close the printer cover", "机盖打开：请合上打印机机盖"),
    "head_too_hot": ("print head too hot: let it cool down", "打印头过热：请等待冷却"),
    "head_too_cold": ("printer too cold: let it warm up to room temperature", "打印机温度过低：请待其回到室温"),
    "motor_too_hot": ("motor too hot: let the printer cool down", "电机过热：请等待打印机冷却"),
    "cutter_jam": ("cutter jam: clear the cutter", "切刀卡住：请清理切刀"),
    "head_element_bad": ("print head element broken: labels may not scan; replace the print head",
                         "打印头有坏点：面单可能无法扫描，请更换打印头"),
    "head_fault": ("print head fault: switch the printer off and on; if it stays, call service",
                   "打印头故障：请关机重启；仍未恢复请联系维修"),
    "memory_full": ("printer memory full: switch it off and on", "打印机内存已满：请关机重启"),
    "corrupt_ram": ("printer settings lost: switch it off and on, then calibrate", "打印机设置丢失：请关机重启后重新校准"),
    "partial_format": ("label only partly received: press cancel on the printer, then print again",
                       "面单数据不完整：请按打印机上的取消键后重新打印"),
    "job_error": ("label data refused: print again; if it repeats, tell IT", "面单数据被拒：请重新打印；如仍出错请通知IT"),
    "firmware_error": ("printer firmware settings invalid: call service", "打印机固件设置无效：请联系维修"),
    "diagnostic_mode": ("printer in diagnostics mode: switch it off and on", "打印机处于诊断模式：请关机重启"),
    "in_setup": ("printer in its setting menu: leave the menu", "打印机处于设置菜单：请退出菜单"),
    "error": ("error: check the printer's display", "故障：请查看打印机显示屏"),
    "media_low": ("labels running low: have a new roll ready", "面单纸即将用完：请准备新卷"),
    "ribbon_low": ("ribbon running low: have a new ribbon ready", "碳带即将用完：请准备新碳带"),
    "clean_head": ("print head needs cleaning: clean it at the next pause", "打印头需要清洁：请在下次空闲时清洁"),
    "replace_head": ("print head worn: plan its replacement", "打印头已磨损：请安排更换"),
    "calibrate_media": ("labels need calibrating: hold feed at the next pause", "需要校准面单：请在下次空闲时长按进纸键"),
}


def printer_words(condition: str) -> tuple[str, str]:
    """A printer condition in the catalog's words, English and Chinese."""
    en, zh = PRINTER_WORDS.get(condition, PRINTER_WORDS["error"])
    return texts.text("en", f"printer:{condition}", en), texts.text("zh", f"printer:{condition}", zh)


def printer_problems(conditions: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``problems`` / ``problems_zh`` for ``printer_not_ready`` from the printer's faults, and ``faults``: each fault
    as its own ``printer_fault`` verdict with its fix."""
    faults = list(conditions) or ["error"]
    words = [printer_words(c) for c in faults]
    return {"problems": "; ".join(w[0] for w in words), "problems_zh": "；".join(w[1] for w in words),
            "faults": [make("printer_fault", condition=c, fault=en, fault_zh=zh).as_dict()
                       for c, (en, zh) in zip(faults, words, strict=True)]}


def printer_notices(conditions: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    """The printer's warnings as the pages show them: each condition with its words in both languages."""
    notices = []
    for condition in conditions:
        en, zh = printer_words(condition)
        notices.append({"condition": condition, "message": en, "message_zh": zh})
    return notices


# audit_chain.verify problem kind -> (en, zh), filled from the problem's fields
AUDIT_PROBLEMS: dict[str, tuple[str, str]] = {
    "changed": ("row {id} was changed", "第{id}行被修改"),
    "broken_link": ("the row before row {id} was deleted or changed (intact up to row {after_id})",
                    "第{id}行之前的行被删除或修改（完好至第{after_id}行）"),
    "unchained": ("row {id} was written outside the chain", "第{id}行不在哈希链中"),
    "head_mismatch": ("the newest rows were deleted or changed: the log ended at row {id} with {expected_rows} "
                      "rows, now row {found_last_id} with {found_rows}",
                      "最新的行被删除或修改：日志原止于第{id}行共{expected_rows}行，现为第{found_last_id}行共{found_rows}行"),
    "head_missing": ("the chain head is missing", "哈希链头缺失"),
}


def audit_problems(problems: list[dict[str, Any]]) -> tuple[str, str]:
    """The problems of an audit verification in words, English and Chinese."""
    en = "; ".join(AUDIT_PROBLEMS[p["kind"]][0].format(**p) for p in problems)
    zh = "；".join(AUDIT_PROBLEMS[p["kind"]][1].format(**p) for p in problems)
    return en, zh


@dataclass(frozen=True)
class Verdict:
    """The answer to one event. ``data`` is JSON-friendly (strings, ints, lists, dicts)."""

    status: str
    code: str
    message: str
    message_zh: str
    next: str
    sound: str
    colour: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message, "message_zh": self.message_zh,
                "next": self.next, "sound": self.sound, "colour": self.colour, "data": dict(self.data)}


def reason_word(reason: str) -> texts.Word | None:
    """A reason the station or a preset button wrote ("manual", "scale_changed", "Extra flyer / insert", or the
    preset's Chinese), as a catalog word read in each language; None for a reason a person typed."""
    key = reason.strip().replace(": ", "_").replace(" ", "_").lower()
    if key in words.WORD:
        return texts.Word(f"word:{key}")
    if key in words.REASON:
        return texts.Word(f"reason:{key}")
    for lang in texts.LANGUAGES:
        for preset, said in texts.catalog(lang).items():
            if preset.startswith("page:r_") and said == reason.strip():
                return texts.Word(preset)
    presets = {en: f"page:{name}" for name, (en, _zh) in words.PAGE.items() if name.startswith("r_")}
    return texts.Word(presets[reason.strip()]) if reason.strip() in presets else None


def make(code: str, /, *, next: str | None = None, status: str | None = None, hint: bool = True,
         **data: Any) -> Verdict:
    """Build the verdict for ``code`` from the tables; ``data`` fills the text fields and is kept.

    ``next`` and ``status`` override the table defaults (e.g. an accepted item whose order is now
    complete says ``next="choose_packaging"``); ``hint=False`` leaves the next step's text out of the
    message (the page says it elsewhere). Raises KeyError for an unknown code or a missing field.
    """
    text = MESSAGES[code]
    shown = {name: value for name, value in data.items() if not name.endswith("_zh")}
    if "event" in data and "state" in data:  # not_allowed_now: say it in words, per language
        shown.update(event_text=texts.Word(f"event:{data['event']}"), state_text=texts.Word(f"state:{data['state']}"))
    if isinstance(shown.get("reason"), str) and not isinstance(shown["reason"], texts.Word):
        shown["reason"] = reason_word(shown["reason"]) or shown["reason"]
    status = status or text.status
    next_step = next or text.next
    sound, colour = STATUS_STYLE[status]

    def say(lang: str, source: str) -> str:
        fields = {**shown, **({k[:-3]: v for k, v in data.items() if k.endswith("_zh")} if lang == "zh" else {})}
        problem = texts.fill(texts.text(lang, f"message:{code}", source), fields, lang)
        hint = texts.fill(texts.text(lang, f"next:{next_step}", NEXT_STEPS[next_step][lang == "zh"]), fields, lang) \
            if hint_wanted and next_step else ""
        return f"{problem} {hint}".rstrip(" ") if lang == "en" else f"{problem}{hint}"

    hint_wanted = hint
    return Verdict(status=status, code=code, message=say("en", text.en), message_zh=say("zh", text.zh),
                   next=next_step, sound=sound, colour=colour,
                   data={name: texts.plain(value) for name, value in data.items()})


def catalog_entries() -> list[tuple[str, str, str]]:
    """Every text of the verdicts as (key, English source, Chinese seed), for ``packgate i18n extract``."""
    return [*((f"message:{code}", t.en, t.zh) for code, t in MESSAGES.items()),
            *texts.entries_of("next", NEXT_STEPS), *texts.entries_of("event", EVENT_WORDS),
            *texts.entries_of("state", STATE_WORDS), *texts.entries_of("problem", PROBLEMS),
            *texts.entries_of("printer", PRINTER_WORDS),
            *texts.entries_of("basis", BASIS_WORDS)]


def answer(code: str, /, **data: Any) -> dict[str, Any]:
    """``make(code, **data)`` as the JSON answer of the API."""
    return make(code, **data).as_dict()


def fields_of(template: str) -> set[str]:
    """The ``str.format`` field names used in ``template``."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def grams(value: Decimal | None, rounding: str = ROUND_HALF_UP) -> str:
    """A weight for display and for ``data``: grams with one decimal, e.g. ``'1234.5'`` (an allowed gap is
    shown rounded down, so a difference shown equal to it passes)."""
    if value is None:
        return "-"
    return str(value.quantize(Decimal("0.1"), rounding=rounding))
