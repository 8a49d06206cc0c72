"""The one translation catalog: every text a person sees, looked up by key in gettext catalogs (Babel).

The catalogs are ``station/locale/<locale>/LC_MESSAGES/packgate.po`` (``en``, ``zh_Hans``), read once at start
with Babel's ``read_po`` (no compile step: the ``.po`` file is what ships). Each entry's ``msgctxt`` is its key
(``message:signed_in``, ``next:weigh``, ``page:tap_badge``, ``device:connected``, ...), its ``msgid`` the English
source text and its ``msgstr`` the translation. The tables in the code (verdicts.py, words.py, escalation.py)
name the keys and fields and carry the English source and a first Chinese translation that only seeds new
entries: ``packgate i18n extract`` adds them to the catalogs, after which the catalog's text is the one shown.

Values formatted per language when they fill a text: ``date`` (medium date), ``timedelta`` (a rounded duration)
and ``Word`` (a catalog word such as ``produced``).
"""
from __future__ import annotations

import functools
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, Iterable

from babel import Locale
from babel.dates import format_date, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = {"en": "en", "zh": "zh_Hans"}  # page language -> catalog locale
DOMAIN = "packgate"


class Word(str):
    """A catalog key (``word:produced``, ``state:blocked``) whose text fills a field in the reader's language."""


def po_path(locale: str) -> Any:
    return resources.files("packgate.station").joinpath("locale", locale, "LC_MESSAGES", f"{DOMAIN}.po")


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """key -> text in ``lang`` ("en" / "zh"); an entry without a translation falls back to its English msgid."""
    path = po_path(LANGUAGES[lang])
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        po: Catalog = read_po(f, locale=LANGUAGES[lang], domain=DOMAIN)
    return {str(m.context): str(m.string or m.id) for m in po if m.id and m.context and not m.fuzzy}


def text(lang: str, key: str, default: str = "") -> str:
    """The catalog's text for ``key`` (``default``, the table's source text, until the catalog has it)."""
    return catalog(lang).get(key) or catalog("en").get(key) or default


def page_texts(lang: str) -> dict[str, str]:
    """Every ``page:``, ``device:``, ``state:``, ``action:`` and ``word:`` entry for the pages, by key."""
    return {key: value for key, value in catalog(lang).items()
            if key.split(":", 1)[0] in ("page", "device", "device_name", "order_status", "action", "word", "status")}


def locale(lang: str) -> Locale:
    return Locale.parse(LANGUAGES.get(lang, "en"))


def show(value: Any, lang: str) -> Any:
    """``value`` as it reads in ``lang`` inside a text."""
    if isinstance(value, Word):
        return text(lang, str(value), str(value).split(":", 1)[-1])
    if isinstance(value, date):
        return format_date(value, "medium", locale=locale(lang))
    if isinstance(value, timedelta):
        return duration(value, lang)
    if isinstance(value, Decimal):
        return format_decimal(value, locale=locale(lang))
    return value


def duration(value: timedelta, lang: str) -> str:
    """A duration as a person says it: "45 seconds", "3 minutes", "2 hours" (rounded, per language)."""
    return format_timedelta(value, threshold=1.5, locale=locale(lang))


def fill(template: str, data: dict[str, Any], lang: str) -> str:
    return template.format(**{name: show(value, lang) for name, value in data.items()})


def plain(value: Any) -> Any:
    """``value`` as JSON data: dates as ISO 8601, durations in seconds, words and decimals as strings."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Word):
        return str(value).split(":", 1)[-1]
    if isinstance(value, Decimal):
        return str(value)
    return value


def entries_of(prefix: str, table: dict[str, tuple[str, str]]) -> Iterable[tuple[str, str, str]]:
    """(key, English source, Chinese seed) for the extraction."""
    for key, (en, zh) in table.items():
        if en:
            yield f"{prefix}:{key}", en, zh
