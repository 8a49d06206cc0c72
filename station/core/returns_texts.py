"""The words of a return at the table (逆向物流): its verdicts and next steps, in English and Chinese.

``core.verdicts`` takes these into its ``MESSAGES`` and ``NEXT_STEPS`` tables (one table of codes for the whole
station, so ``packgate i18n extract`` finds them); rows are (status, next step, English, Chinese).
"""
from __future__ import annotations

NEXT_STEPS: dict[str, tuple[str, str]] = {
    "scan_return": ("Scan the return parcel's waybill or the RMA.", "请扫描退货包裹面单或退货单（RMA）。"),
    "scan_return_item": ("Scan the next returned item, grade it, or weigh the returned items.",
                         "请扫描下一件退回商品、为其定级，或称量退回商品。"),
    "grade_unit": ("Grade the unit: A resellable, B light wear, C not resellable.",
                   "请为此件定级：A 可再售，B 轻微磨损，C 不可再售。"),
    "supervisor_pin": ("A supervisor enters a reason, their badge and PIN to take it in, or puts it aside.",
                       "请主管填写原因并输入工牌与PIN以接收此件，或将其放在一旁。"),
    "second_badge_pin": ("A second person enters their badge and PIN to confirm.", "请另一位同事输入工牌与PIN确认。"),
    "weigh_returned": ("Put the returned items on the scale.", "请把退回商品放到秤上。"),
    "close_return": ("Close the return.", "请关闭此退货单。"),
}

MESSAGES: dict[str, tuple[str, str, str, str]] = {
    "return_received": ("ok", "scan_return_item", "Return {rma_id} for order {order_id}: {units} unit(s) expected "
                        "({reason}).", "退货单{rma_id}（订单{order_id}）：应退{units}件（{reason}）。"),
    "return_unknown": ("error", "scan_return", "No return is announced for {code}; the parcel is kept for review.",
                       "{code}没有对应的退货通知，包裹已保留待核查。"),
    "return_already_closed": ("error", "scan_return", "Return {rma_id} was closed already ({closed_at}).",
                              "退货单{rma_id}已于{closed_at}关闭。"),
    "return_busy": ("error", "close_return", "Return {rma_id} is open at this table: close it first.",
                    "本工作台正在处理退货单{rma_id}，请先关闭。"),
    "return_elsewhere": ("error", "scan_return", "Return {rma_id} is being processed at {where}.",
                         "退货单{rma_id}正在{where}处理。"),
    "return_no_record": ("error", "", "No return of {rma_id} was processed here.", "本工作台没有处理过{rma_id}的退货。"),
    "return_none_open": ("error", "scan_return", "No return is open here.", "此处没有正在处理的退货单。"),
    "return_not_signed_in": ("error", "tap_badge", "Sign in before receiving a return.", "请先登录再接收退货。"),
    "return_item_not_in_rma": ("error", "scan_return_item", "{code} is not in return {rma_id}: refused, keep it "
                               "apart.", "{code}不在退货单{rma_id}中：拒收，请单独放置。"),
    "return_item_extra": ("error", "scan_return_item", "All {qty} unit(s) of {sku} announced have been received "
                          "already.", "{sku}应退的{qty}件已全部收到。"),
    "return_item_twice": ("error", "scan_return_item", "{sku} serial {serial} was scanned already.",
                          "{sku}序列号{serial}已扫描过。"),
    "return_not_our_unit": ("blocked", "supervisor_pin", "Not the unit we shipped (调包): {sku} {what} {got}, shipped "
                            "{shipped}.", "不是我们发出的商品（调包）：{sku}的{what}为{got}，发出的是{shipped}。"),
    "return_second_badge": ("prompt", "second_badge_pin", "{sku} is a special item.", "{sku}是特殊商品。"),
    "return_second_same_person": ("error", "second_badge_pin", "The second badge must be another person's.",
                                  "第二个工牌必须是另一位同事的。"),
    "return_supervisor_needed": ("error", "supervisor_pin", "{name} is not a supervisor.", "{name}不是主管。"),
    "return_reason_needed": ("error", "supervisor_pin", "A reason is needed.", "需要填写原因。"),
    "return_nothing_to_approve": ("error", "scan_return_item", "No unit is waiting for a badge.",
                                  "没有等待确认的商品。"),
    "return_waiting_badge": ("error", "supervisor_pin", "A unit waits for a badge first.", "有商品正在等待刷卡确认。"),
    "return_item_taken": ("ok", "grade_unit", "{sku} received (unit {index}); {left} unit(s) still expected.",
                          "已收到{sku}（第{index}件）；还应退{left}件。"),
    "return_item_put_aside": ("prompt", "scan_return_item", "{sku} put aside: not part of the return.",
                              "{sku}已放在一旁，不计入此退货。"),
    "return_no_such_unit": ("error", "grade_unit", "There is no unit {index} (units received: {units}).",
                            "没有第{index}件（已收到{units}件）。"),
    "return_bad_grade": ("error", "grade_unit", "Grade {grade} is not one of A, B, C.", "等级{grade}不是A、B、C之一。"),
    "return_grade_reason": ("error", "grade_unit", "Grade {grade} needs a reason code: {reasons}.",
                            "等级{grade}需要原因代码：{reasons}。"),
    "return_graded_a": ("ok", "scan_return_item", "{sku} graded A: put it away to lot {lot}, bin {bin}.",
                        "{sku}定为A级：请上架到批次{lot}，库位{bin}。"),
    "return_graded": ("prompt", "scan_return_item", "{sku} graded {grade} ({reason}): put it in the returns area.",
                      "{sku}定为{grade}级（{reason}）：请放入退货区。"),
    "return_weigh_after_items": ("error", "scan_return_item", "Scan the returned items before weighing them.",
                                 "请先扫描退回商品再称重。"),
    "return_weight_ok": ("ok", "close_return", "Returned items weigh {measured} g (expected {expected} g).",
                         "退回商品重{measured}克（应为{expected}克）。"),
    "return_weight_gap": ("blocked", "close_return", "Weight gap: {measured} g measured, {expected} g expected "
                          "({gap} g, allowed {allowed} g); the return goes to review.",
                          "重量差异：实测{measured}克，应为{expected}克（差{gap}克，允许{allowed}克）；退货将转人工审核。"),
    "return_close_empty": ("error", "scan_return_item", "No unit was received: scan the returned items first.",
                           "尚未收到任何商品，请先扫描退回商品。"),
    "return_close_ungraded": ("error", "grade_unit", "Unit(s) {units} are not graded yet.", "第{units}件尚未定级。"),
    "return_close_unweighed": ("error", "weigh_returned", "The returned items are not weighed yet.",
                               "退回商品尚未称重。"),
    "return_closed_refund": ("ok", "scan_return", "Return {rma_id} closed: everything is fine, the refund goes out.",
                             "退货单{rma_id}已关闭：检验通过，将自动退款。"),
    "return_closed_review": ("blocked", "scan_return", "Return {rma_id} closed for review ({why}).",
                             "退货单{rma_id}已关闭，转人工审核（{why}）。"),
    "return_bad_request": ("error", "", "{problem}", "{problem}"),
    "return_mode_kiosk_only": ("error", "", "Only the table's own screen switches between Pack and Returns.",
                               "只有工作台本机屏幕可以在打包与退货之间切换。"),
}

# reason codes in words (``words.REASON``): a grader's reason for a B or C, the customer's reason on the RMA (the site
# counts the top ten), and why a closed return goes to review
REASONS: dict[str, tuple[str, str]] = {
    "packaging_opened": ("packaging opened", "包装已拆"), "signs_of_use": ("signs of use", "有使用痕迹"),
    "scratched": ("scratched", "有划痕"), "missing_parts": ("parts missing", "配件缺失"), "damaged": ("damaged", "损坏"),
    "stained": ("stained", "有污渍"), "expired": ("expired", "已过期"), "seal_broken": ("seal broken", "封条破损"),
    "not_working": ("does not work", "无法使用"), "other": ("other", "其他"),
    "size_too_small": ("size too small", "尺码偏小"), "size_too_large": ("size too large", "尺码偏大"),
    "not_as_described": ("not as described", "与描述不符"), "defective": ("defective", "质量问题"),
    "wrong_item": ("wrong item sent", "发错货"), "damaged_in_transit": ("damaged in transit", "运输损坏"),
    "changed_mind": ("changed their mind", "不想要了"), "arrived_late": ("arrived too late", "到货太晚"),
    "better_price": ("found a better price", "其他渠道更便宜"), "unspecified": ("no reason given", "未说明原因"),
    "units_missing": ("units missing", "商品缺件"), "not_all_grade_a": ("not every unit grade A", "并非全部为A级"),
    "not_the_unit_shipped": ("not the unit shipped", "非原发商品"), "weight_gap": ("weight gap", "重量差异"),
}

# the Returns screen's words (``words.PAGE``)
PAGE: dict[str, tuple[str, str]] = {
    "returns": ("Returns", "退货"), "rt_receive_dock": ("Receive a return", "退货收货"),
    "rt_mode": ("Returns", "退货模式"), "rt_to_pack": ("Pack", "打包"),
    "rt_scan_parcel": ("Scan the return parcel's waybill or the RMA", "请扫描退货包裹面单或退货单"),
    "rt_rma": ("Return", "退货单"), "rt_reason": ("Reason", "退货原因"), "rt_expected": ("Expected", "应退"),
    "rt_received": ("Received", "已收"), "rt_units": ("Units received", "已收商品"),
    "rt_serial_lot": ("Serial / lot", "序列号/批次"), "rt_grade": ("Grade", "等级"), "rt_putaway": ("Put away", "上架"),
    "rt_outbound": ("What was packed", "原发货内容"), "rt_lot": ("Lot", "批次"), "rt_serial": ("Serial", "序列号"),
    "rt_outbound_weight": ("Outbound weight", "出库重量"),
    "rt_expected_weight": ("Returned items should weigh", "退回商品应重"),
    "rt_grade_a": ("A · resellable", "A · 可再售"), "rt_grade_b": ("B · light wear", "B · 轻微磨损"),
    "rt_grade_c": ("C · not resellable", "C · 不可再售"), "rt_weigh": ("Weigh", "称重"),
    "rt_close": ("Close return", "关闭退货单"), "rt_badge": ("Badge", "工牌"), "rt_pin": ("PIN", "密码"),
    "rt_outcome": ("Outcome", "结果"), "rt_outcome_refund": ("refund", "退款"),
    "rt_outcome_review": ("review", "人工审核"), "rt_state_open": ("in progress", "处理中"),
    "rt_state_swap_review": ("waiting for a supervisor", "等待主管"),
    "rt_state_second_badge": ("waiting for a second badge", "等待第二人刷卡"), "rt_state_closed": ("closed", "已关闭"),
    "rt_approve_reason": ("Reason", "原因"), "rt_approve": ("Confirm", "确认"), "rt_put_aside": ("Put aside", "放在一旁"),
}
