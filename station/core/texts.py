"""The one translation catalog: every text a person sees, looked up by key in gettext catalogs (Babel).

The catalogs are ``station/locale/<locale>/LC_MESSAGES/packgate.po`` (``en``, ``zh_Hans``), read once at start
with Babel's ``read_po`` (no compile step: the ``.po`` file is what ships). Each entry's ``msgctxt`` is its key
(``message:signed_in``, ``next:weigh``, ``page:tap_badge``, ``device:connected``, ...), its ``msgid`` the English
source text and its ``msgstr`` the translation. The tables in the code (verdicts.py, words.py, escalation.py)
name the keys and fields and carry the English source and a first Chinese translation that only seeds new
entries: ``packgate i18n extract`` adds them to the catalogs, after which the catalog's text is the one shown.

Values formatted per language when they fill a text: ``date`` (medium date), ``timedelta`` (a rounded duration)
and ``Word`` (a catalog word such as ``produced``). A whole number counts something through a plural entry of the
catalog when its field says so: ``{units:plural:unit}`` reads "1 item" / "3 items" / "3件", by the entry
``plural:unit`` (``msgid``/``msgid_plural``, one ``msgstr[i]`` per plural form of the language) looked up with
gettext's ``npgettext`` on the catalog compiled in memory by Babel, so each language counts by its own rule.
"""
from __future__ import annotations

import functools
import gettext
import io
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, Iterable

from babel import Locale
from babel.dates import format_date, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = {"en": "en", "zh": "zh_Hans"}  # page language -> catalog locale
DOMAIN = "packgate"


class Word(str):
    """A catalog key (``word:produced``, ``state:blocked``) whose text fills a field in the reader's language."""


def po_path(locale: str) -> Any:
    return resources.files("packgate.station").joinpath("locale", locale, "LC_MESSAGES", f"{DOMAIN}.po")


@functools.cache
def _po(lang: str) -> Catalog | None:
    path = po_path(LANGUAGES[lang])
    if not path.is_file():
        return None
    with path.open("rb") as f:
        return read_po(f, locale=LANGUAGES[lang], domain=DOMAIN)


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """key -> text in ``lang`` ("en" / "zh"); an entry without a translation falls back to its English msgid.
    Plural entries are not here (``plurals``)."""
    po = _po(lang)
    if po is None:
        return {}
    return {str(m.context): str(m.string or m.id) for m in po
            if m.id and m.context and not m.fuzzy and not m.pluralizable}


@functools.cache
def plurals(lang: str) -> dict[str, tuple[str, ...]]:
    """key -> the plural forms in ``lang``, in the order of the language's gettext plural rule."""
    po = _po(lang)
    if po is None:
        return {}
    return {str(m.context): tuple(str(x) for x in m.string) for m in po
            if m.context and m.pluralizable and not m.fuzzy and isinstance(m.string, (tuple, list)) and all(m.string)}


@functools.cache
def _translations(lang: str) -> gettext.NullTranslations:
    """The catalog compiled in memory (Babel's ``write_mo``) for gettext's ``npgettext`` and plural rule."""
    po = _po(lang)
    if po is None:
        return gettext.NullTranslations()
    mo = io.BytesIO()
    write_mo(mo, po)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


def count(lang: str, key: str, n: int) -> str:
    """``n`` things counted by the plural entry ``key`` ("plural:unit") in ``lang``: "1 item", "3 items", "3件"
    (English until the language's catalog has the entry; the bare number for a key no catalog has)."""
    source = _plural_source(key)
    if source is None:
        return str(n)
    return _translations(lang).npgettext(key, source[0], source[1], n).format(n=n)


@functools.cache
def _plural_source(key: str) -> tuple[str, str] | None:
    """The English msgid and msgid_plural of the plural entry ``key``: what gettext looks it up by."""
    for m in _po("en") or ():
        if m.context == key and m.pluralizable:
            return str(m.id[0]), str(m.id[1])
    return None


def plural_categories(lang: str) -> list[str]:
    """The CLDR category (``one``, ``other``, ...) of each plural form of ``lang``, in gettext order: the pages pick
    a form with the browser's ``Intl.PluralRules`` by it."""
    translations = _translations(lang)
    rule = getattr(translations, "plural", lambda n: int(n != 1))
    forms: dict[int, str] = {}
    for n in range(0, 200):
        forms.setdefault(rule(n), str(locale(lang).plural_form(n)))
    return [forms[i] for i in sorted(forms)]


def reload() -> None:
    """Read the catalogs again (after ``packgate i18n extract`` rewrote them)."""
    for cached in (_po, catalog, plurals, _translations, _plural_source):
        cached.cache_clear()


def text(lang: str, key: str, default: str = "") -> str:
    """The catalog's text for ``key`` (``default``, the table's source text, until the catalog has it)."""
    return catalog(lang).get(key) or catalog("en").get(key) or default


PAGE_PREFIXES = ("page", "device", "device_name", "order_status", "action", "word", "status", "next", "state",
                 "field", "reason")


def page_texts(lang: str) -> dict[str, Any]:
    """Every entry the pages show, by key (``page:``, ``device:``, ``next:``, ``state:``, ...); a plural entry as
    the list of its forms, and ``_plural`` the CLDR category of each form (for ``Intl.PluralRules``)."""
    out: dict[str, Any] = {key: value for key, value in catalog(lang).items() if key.split(":", 1)[0] in PAGE_PREFIXES}
    out.update({key: list(forms) for key, forms in plurals(lang).items()})
    out["_plural"] = plural_categories(lang)
    return out


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


class _Counted(int):
    """A whole number in a text: ``{n:plural:unit}`` counts it with the plural entry ``plural:unit``."""

    lang = "en"

    def __format__(self, spec: str) -> str:
        if spec.startswith("plural:"):
            return count(self.lang, spec, int(self))
        return int.__format__(int(self), spec)


class _Uncounted(str):
    """Any other value in a text: a ``plural:`` format spec shows it as it is (e.g. "-" where no count exists)."""

    def __format__(self, spec: str) -> str:
        return str(self) if spec.startswith("plural:") else str.__format__(str(self), spec)


def _field(value: Any, lang: str) -> Any:
    if type(value) is int or (isinstance(value, str) and value.isdigit() and value.isascii()):
        out = _Counted(int(value))
        out.lang = lang
        return out
    return _Uncounted(value) if isinstance(value, str) else value


def fill(template: str, data: dict[str, Any], lang: str) -> str:
    return template.format(**{name: _field(show(value, lang), lang) for name, value in data.items()})


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


Entry = tuple[str, "str | tuple[str, str]", str]  # key, English source (a plural: one and other), Chinese seed


def entries_of(prefix: str, table: dict[str, tuple[Any, str]]) -> Iterable[Entry]:
    """(key, English source, Chinese seed) for the extraction."""
    for key, (en, zh) in table.items():
        if en:
            yield f"{prefix}:{key}", en, zh
