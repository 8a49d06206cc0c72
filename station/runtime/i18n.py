"""``packgate i18n extract``: bring the translation catalogs in line with the tables in the code.

Every key of the tables (verdict codes and next steps, workflow words, page words, device states,
escalation texts) gets an entry in ``station/locale/<locale>/LC_MESSAGES/packgate.po``: a new key takes the
table's Chinese as its first translation; a key whose English source changed keeps its translation, marked
fuzzy (not shown) until a translator checks it; keys no longer in the tables are dropped. Existing
translations are never overwritten. A plural entry (``plural:<thing>``) has the English singular and plural as
``msgid``/``msgid_plural`` and one ``msgstr[i]`` per plural form of the language (Chinese has one).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from packgate.station.core import escalation, texts, verdicts, words
from packgate.sync.hub import dashtext


def entries() -> list[texts.Entry]:
    """Every text a person sees: (key, English source, Chinese seed)."""
    return [*verdicts.catalog_entries(), *texts.entries_of("page", words.PAGE),
            *texts.entries_of("plural", words.PLURAL), *texts.entries_of("field", words.FIELD),
            *texts.entries_of("reason", words.REASON),
            *texts.entries_of("status", words.STATUS), *texts.entries_of("device", words.DEVICE),
            *texts.entries_of("device_name", words.DEVICE_NAME),
            *texts.entries_of("demo", words.DEMO),
            *texts.entries_of("state", {k: v for k, v in words.STATE.items() if k not in verdicts.STATE_WORDS}),
            *texts.entries_of("order_status", words.STATE), *texts.entries_of("action", words.ACTION),
            *texts.entries_of("word", words.WORD), *texts.entries_of("escalation", escalation.TEMPLATES),
            *dashtext.catalog_entries()]


def extract(locale_dir: Path) -> dict[str, int]:
    """Update both catalogs under ``locale_dir``; returns how many entries each has."""
    counts = {}
    table = entries()
    for lang, locale in texts.LANGUAGES.items():
        path = locale_dir / locale / "LC_MESSAGES" / f"{texts.DOMAIN}.po"
        old: dict[str, tuple[Any, Any, bool]] = {}
        if path.exists():
            with path.open("rb") as f:
                for m in read_po(f, locale=locale):
                    if m.id and m.context:
                        old[str(m.context)] = (m.id, m.string, bool(m.fuzzy))
        cat = Catalog(locale=locale, domain=texts.DOMAIN, project="packgate", fuzzy=False)
        for key, en, zh in table:
            seed: Any = en if lang == "en" else zh
            if isinstance(en, tuple) and lang != "en":
                seed = (zh,) * cat.num_plurals
            prev = old.get(key)
            if prev is None:
                cat.add(en, seed, context=key)
            elif prev[0] == en or (isinstance(en, tuple) and tuple(prev[0]) == en):
                cat.add(en, prev[1], context=key, flags=("fuzzy",) if prev[2] else ())
            else:
                cat.add(en, prev[1] if lang != "en" else en, context=key, flags=() if lang == "en" else ("fuzzy",))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, cat, width=120, omit_header=False, sort_output=True)
        counts[locale] = len(cat)
    texts.reload()
    return counts


def locale_dir() -> Path:
    return Path(str(texts.po_path("en"))).parents[2]
