"""The one translation catalog: every text key in both languages, the texts shown come from the .po files."""
from __future__ import annotations

import re
from datetime import date, timedelta

from babel.messages.pofile import read_po

from packgate.station.core import texts, verdicts
from packgate.station.core.escalation import Escalation, message
from packgate.station.runtime.i18n import entries


def _po(locale: str) -> dict[str, str]:
    with texts.po_path(locale).open("rb") as f:
        return {str(m.context): str(m.string) for m in read_po(f) if m.id and m.context and not m.fuzzy}


def test_every_code_and_word_has_both_languages_in_the_catalog():
    en, zh = _po("en"), _po("zh_Hans")
    missing = [key for key, _, _ in entries() if not en.get(key) or not zh.get(key)]
    assert not missing, f"not in the catalogs (run `packgate i18n extract`, then translate): {missing}"
    for code in verdicts.MESSAGES:
        assert f"message:{code}" in zh
    for key, value in zh.items():  # nothing left in English (names of fields, commands and API keys aside)
        words = re.sub(r"\{[^}]*\}|`[^`]*`|packgate|payload\.?\w*|key|image_sha256|×|SKU|OK", "", value)
        assert not re.search(r"[a-z]{2,}", words) or key == "page:lang", f"{key} is not translated: {value!r}"


def test_the_verdict_texts_come_from_the_catalog(monkeypatch):
    monkeypatch.setattr(texts, "catalog", lambda lang: {"message:packed": "<<packed {order_id}>>", "next:scan_order": "[next]"})
    v = verdicts.make("packed", order_id="SO-1")
    assert v.message == "<<packed SO-1>> [next]" and v.message_zh == "<<packed SO-1>>[next]"


def test_dates_words_and_durations_are_formatted_per_language():
    assert texts.show(date(2025, 11, 3), "en") == "Nov 3, 2025" and texts.show(date(2025, 11, 3), "zh") == "2025年11月3日"
    assert texts.show(texts.Word("word:produced"), "zh") == "生产日期"
    assert texts.duration(timedelta(minutes=12, seconds=20), "en") == "12 minutes"
    assert texts.duration(timedelta(seconds=40), "zh") == "40秒钟"


def test_a_request_problem_reads_in_both_languages():
    v = verdicts.make("bad_request", problem=texts.Word("problem:payload_object"))
    assert v.message == "payload must be an object" and v.message_zh == "请求无效：payload必须是对象"
    assert v.data["problem"] == "payload_object"


def test_escalation_text_never_says_0_min():
    from datetime import datetime, timezone
    picked = datetime(2026, 2, 22, 3, 0, tzinfo=timezone.utc)
    esc = Escalation("SO-1", 1, picked + timedelta(seconds=30), picked, "shift_supervisor", True)
    _, body = message(esc, picked + timedelta(seconds=40), "T-1")
    assert "0 min" not in body and "40 seconds" in body
    assert "40秒钟" in message(esc, picked + timedelta(seconds=40), "T-1", lang="zh")[1]


def test_every_printer_condition_has_words_in_both_languages_in_the_catalog():
    from packgate.device.printer.conditions import CONDITIONS
    from packgate.station.core import texts
    from packgate.station.core.verdicts import PRINTER_WORDS

    shown = {c for c, fix in CONDITIONS.items() if fix}  # "printing" and "buffer_full" are states, never shown
    assert set(PRINTER_WORDS) == shown
    for condition in shown:
        en, zh = texts.catalog("en").get(f"printer:{condition}"), texts.catalog("zh").get(f"printer:{condition}")
        assert en and zh and en != zh, condition


def test_plural_entries_count_by_each_languages_rule():
    """gettext plural entries (msgid_plural, msgstr[n]) through Babel: English has two forms, Chinese one."""
    assert [texts.count("en", "plural:unit", n) for n in (0, 1, 2)] == ["0 items", "1 item", "2 items"]
    assert [texts.count("zh", "plural:unit", n) for n in (1, 2)] == ["1件", "2件"]
    assert texts.plural_categories("en") == ["one", "other"] and texts.plural_categories("zh") == ["other"]
    v = verdicts.make("order_opened", order_id="SO-1", lines=1, units=3)
    assert v.message.startswith("Order SO-1 is open: 1 line, 3 items in all.") and v.data == {"order_id": "SO-1",
                                                                                           "lines": 1, "units": 3}
    assert "(1 problem)" in verdicts.make("audit_tampered", count=1, problems="x").message
    assert "(2 files)" in verdicts.make("evidence_exported", order_id="SO-1", folder="/x", files=2).message
    page = texts.page_texts("zh")
    assert page["plural:line"] == ["{n}行"] and page["_plural"] == ["other"]
    with texts.po_path("en").open("rb") as f:
        entry = next(m for m in read_po(f) if m.context == "plural:unit")
    assert entry.id == ("{n} item", "{n} items")  # a real gettext plural entry, not two keys


def test_preset_and_station_reasons_read_in_each_language():
    v = verdicts.make("override_requested", reason="Extra flyer / insert")
    assert v.message_zh.startswith("已记录审批原因：附加传单/赠品。") and v.data["reason"] == "Extra flyer / insert"
    signed_out = verdicts.make("signed_out", name="Li Wei", reason="idle")
    assert "(idle too long)" in signed_out.message and "（长时间未操作）" in signed_out.message_zh
    typed = verdicts.make("override_requested", reason="two flyers, agreed by phone")
    assert "two flyers, agreed by phone" in typed.message_zh  # a person's own words stay theirs
