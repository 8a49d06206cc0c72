"""The hub's pages speak the one catalog: every word of ``dashtext.WORDS`` is an entry ``hub:<key>`` of both
catalogs, translated (not fuzzy) and in Chinese in the Chinese one; the borrowed sections are there in both."""
from __future__ import annotations

import re

from babel.messages.pofile import read_po

from packgate.station.core import texts
from packgate.sync.hub import dashtext

CJK = re.compile(r"[\u3400-\u9fff]")


def entries(locale: str) -> dict[str, object]:
    with texts.po_path(locale).open("rb") as f:
        return {str(m.context): m for m in read_po(f, locale=locale) if m.context}


def test_every_hub_word_is_in_both_catalogs_and_translated():
    en, zh = entries("en"), entries("zh_Hans")
    for key, (source, _seed) in dashtext.WORDS.items():
        for catalog in (en, zh):
            entry = catalog.get(f"hub:{key}")
            assert entry is not None, f"hub:{key} is not in the catalog (run packgate i18n extract)"
            assert entry.id == source and not entry.fuzzy, f"hub:{key}"
        assert CJK.search(zh[f"hub:{key}"].string), f"hub:{key} has no Chinese: {zh[f'hub:{key}'].string!r}"


def test_the_pages_words_come_from_the_catalog_in_both_languages():
    english, chinese = dashtext.words("en"), dashtext.words("zh")
    assert english["title"] == "Site dashboard" and chinese["title"] == "现场看板"
    assert chinese["stage_names"]["backlog"] == "待拣货" and english["stage_names"]["packed"] == "Packed, at the dock"
    assert chinese["device_states"]["connected"] == "已连接" and chinese["device_names"]["scale"] == "电子秤"
    assert chinese["state_names"]["scanning"] and CJK.search(chinese["state_names"]["scanning"])
    assert set(english) == set(chinese)
