"""Translations: text a reader sees is a template with named values, rendered per language.

Every distribution (the core, the standard checks, each connector, a third-party plugin)
owns a translation *domain*: a folder ``locale/`` beside its code holding ``messages.pot``
(the English templates, made by ``crm-audit i18n extract``) and one ``<lang>.po`` per
language (``id.po``, ``ko.po``), in the gettext PO format that translators' tools read.
A module takes its domain's two functions::

    from crm_audit_core.i18n import Domain

    DOMAIN = Domain("crm_audit_checks", Path(__file__).parent / "locale")
    _, ngettext = DOMAIN.gettext, DOMAIN.ngettext

    message = ngettext("{n} contact has no owner", "{n} contacts have no owner", len(ids))
    reason = _("needs {what}, which the tenant's connector did not supply", what="contacts.email")

Both return a :class:`Message`: a ``str`` holding the English text (so code that reads
``result.message`` as text keeps working) that also remembers its template, its values
and its domain, so a report can be rendered in any language later
(``message.render("ko")``), also from an archived report.json. The plural form is
chosen by the language's own rule (``n`` is always available as ``{n}``). Values are
formatted for the language with Babel: an ``int`` as a count with grouping (``1,234`` /
``1.234``), a ``float`` with up to two decimals, :class:`Percent`, :class:`Money`,
``date`` and ``datetime`` values as dates, a list as the language's list ("a, b and c";
"a, b dan c"; "a, b 및 c"), a nested :class:`Message` in the same language; any other
value (CRM data: names, ids, field names) as it is. Text joined from messages keeps
them: ``Message.join([m1, m2], "; ")``.

A translation missing from a language falls back to English for that string only.
The plugin registers its domain (``crm_audit_register_translations``), which lets
``crm-audit i18n coverage`` count it and gives the plugin's checks' titles,
descriptions and remediation their translations (docs/plugins/writing-a-check.md).
"""

from __future__ import annotations

import functools
import gettext as _gettext
import io
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

LANGUAGES = {"en": "English", "id": "Bahasa Indonesia", "ko": "한국어"}
"""The languages reports are written in: code -> the language's own name."""

DEFAULT_LANG = "en"

_DOMAINS: dict[str, "Domain"] = {}
_LOCK = threading.Lock()


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Percent:
    """A share (0.25) shown as a percentage for the language (``25%``, ``25 %``)."""

    value: float
    digits: int = 1


@dataclass(frozen=True)
class Money:
    """An amount with its ISO currency code, shown for the language (``Rp 1.500.000,00``)."""

    amount: float
    currency: str


@functools.lru_cache(maxsize=None)
def _locale(lang: str):
    """Babel's Locale of ``lang``, parsed once (parsing it for every value was most of the cost)."""
    from babel import Locale

    return Locale.parse(lang)


@functools.lru_cache(maxsize=None)
def _pattern(pattern: str):
    from babel import numbers

    return numbers.parse_pattern(pattern)


@functools.lru_cache(maxsize=1 << 16)
def _format_number(kind: type, value, lang: str) -> str:
    """An ``int`` as a count, a ``float`` with up to two decimals, in ``lang`` (memoised: the same
    counts and weights recur in thousands of details)."""
    locale = _locale(lang)
    pattern = locale.decimal_formats[None] if kind is int else _pattern("#,##0.##")
    return pattern.apply(value, locale)


@functools.lru_cache(maxsize=1 << 14)
def _format_date(value: date, lang: str) -> str:
    from babel import dates

    return dates.format_date(value, format="medium", locale=_locale(lang))


def _format_value(value: Any, lang: str) -> str:
    if isinstance(value, (Message, Joined)):
        return value.render(lang)
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return _format_number(int, int(value), lang)
    if isinstance(value, float):
        return _format_number(float, value + 0.0, lang)  # + 0.0: never "-0"
    if isinstance(value, Percent):
        pattern = "#,##0" + ("." + "#" * value.digits if value.digits else "") + "%"
        return _pattern(pattern).apply(value.value, _locale(lang))
    if isinstance(value, Money):
        from babel import numbers

        try:
            return numbers.format_currency(value.amount, value.currency, locale=_locale(lang))
        except Exception:  # an unknown currency code from the CRM: the number and the code
            return f"{_format_number(float, float(value.amount) + 0.0, lang)} {value.currency}"
    if isinstance(value, datetime):
        return _format_date(value.date(), lang)
    if isinstance(value, date):
        return _format_date(value, lang)
    if isinstance(value, (list, tuple)):
        from babel import lists

        items = [_format_value(v, lang) for v in value]
        return lists.format_list(items, locale=_locale(lang)) if items else ""
    return str(value)


class Strings:
    """A table of the templates' texts shared by many templates (a result's details), so
    report.json holds each template text once: templates encoded with it name their
    ``msgid``/``plural`` by index (an int) into :attr:`texts`."""

    def __init__(self, texts: list[str] | None = None):
        self.texts: list[str] = list(texts or [])
        self._index = {t: i for i, t in enumerate(self.texts)}

    def ref(self, text: str) -> int:
        i = self._index.get(text)
        if i is None:
            i = self._index[text] = len(self.texts)
            self.texts.append(text)
        return i

    def text(self, ref) -> str:
        if isinstance(ref, int) and 0 <= ref < len(self.texts):
            return self.texts[ref]
        return str(ref)


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _value_to_json(value: Any, strings: "Strings | None" = None, domain: str = "") -> Any:
    if type(value) in _PLAIN_TYPES:  # most values: CRM text and counts, as they are
        return value
    if isinstance(value, (Message, Joined)):
        return {"$msg": value.to_json(strings, domain)}
    if isinstance(value, Percent):
        return {"$percent": value.value, "digits": value.digits}
    if isinstance(value, Money):
        return {"$money": value.amount, "currency": value.currency}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return {"$list": [_value_to_json(v, strings, domain) for v in value]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _value_from_json(data: Any, strings: "Strings | None" = None, domain: str = "") -> Any:
    if not isinstance(data, dict):
        return data
    if "$msg" in data:
        return message_from_json(data["$msg"], strings, domain)
    if "$percent" in data:
        return Percent(float(data["$percent"]), int(data.get("digits", 1)))
    if "$money" in data:
        return Money(float(data["$money"]), str(data.get("currency", "")))
    if "$datetime" in data:
        return datetime.fromisoformat(data["$datetime"])
    if "$date" in data:
        return date.fromisoformat(data["$date"])
    if "$list" in data:
        return [_value_from_json(v, strings, domain) for v in data["$list"]]
    return str(data)


# ---------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------


class _SafeValues(dict):
    """Missing names stay visible as ``{name}`` instead of raising (a translator's typo)."""

    def __missing__(self, key):
        return "{" + key + "}"


def _fill(template: str, values: dict, lang: str) -> str:
    formatted = _SafeValues({k: _format_value(v, lang) for k, v in values.items()})
    try:
        return template.format_map(formatted)
    except (ValueError, IndexError, AttributeError, KeyError):  # a malformed translation: the template as is
        return template


class Message(str):
    """A translatable text: the English rendering, plus its template, values and domain.

    Made by :meth:`Domain.gettext` / :meth:`Domain.ngettext` (the module's ``_`` and
    ``ngettext``), never by hand. ``str(message)`` and every ``str`` operation see the
    English text; :meth:`render` gives it in another language.
    """

    msgid: str
    plural: str | None
    n: int | None
    values: dict
    domain: str

    def __new__(cls, msgid: str, values: dict | None = None, *, plural: str | None = None, n: int | None = None,
                domain: str = ""):
        values = dict(values or {})
        if n is not None:
            values.setdefault("n", n)
        english = _fill(msgid if plural is None or n == 1 else plural, values, DEFAULT_LANG)
        self = super().__new__(cls, english)
        self.msgid, self.plural, self.n, self.values, self.domain = msgid, plural, n, values, domain
        return self

    def render(self, lang: str) -> str:
        """This text in ``lang`` (English for a string the language has no translation of)."""
        if lang == DEFAULT_LANG:
            return str.__str__(self)
        template = translate_template(self.msgid, self.plural, self.n, lang, self.domain)
        return _fill(template, self.values, lang)

    def to_json(self, strings: Strings | None = None, domain: str = "") -> dict:
        """The template, to render again later (``{"msgid", "plural", "n", "values", "domain"}``).

        With ``strings``, ``msgid``/``plural`` are indexes into that shared table; the
        ``domain`` is left out when it is ``domain`` (the enclosing template's)."""
        data: dict = {"msgid": strings.ref(self.msgid) if strings is not None else self.msgid}
        if self.domain != domain or strings is None:
            data["domain"] = self.domain
        if self.plural is not None:
            data["plural"] = strings.ref(self.plural) if strings is not None else self.plural
            data["n"] = self.n
        own = self.domain
        values = {k: _value_to_json(v, strings, own) for k, v in self.values.items()
                  if not (k == "n" and self.n is not None and v == self.n)}
        if values:
            data["values"] = values
        return data

    def __reduce__(self):  # pickling (worker processes) keeps the template
        return (_rebuild, (self.to_json(),))

    @staticmethod
    def join(parts: Iterable[Any], sep: str = "; ") -> "Joined":
        """Several texts shown as one (each part rendered in the report's language)."""
        return Joined(list(parts), sep)


class Joined(str):
    """Texts joined by a separator, each rendered in the report's language."""

    parts: list
    sep: str

    def __new__(cls, parts: list, sep: str = "; "):
        self = super().__new__(cls, sep.join(str(p) for p in parts))
        self.parts, self.sep = parts, sep
        return self

    def render(self, lang: str) -> str:
        return self.sep.join(render(p, lang) for p in self.parts)

    def to_json(self, strings: Strings | None = None, domain: str = "") -> dict:
        data: dict = {"join": self.sep}
        if strings is not None and not domain:  # the parts' common domain, said once
            own = {p.domain for p in self.parts if isinstance(p, Message)}
            if len(own) == 1:
                domain = data["domain"] = own.pop()
        data["parts"] = [_value_to_json(p, strings, domain) for p in self.parts]
        return data

    def __reduce__(self):
        return (_rebuild, (self.to_json(),))


def _rebuild(data: dict):
    return message_from_json(data)


def message_from_json(data: Any, strings: Strings | None = None, domain: str = ""):
    """A :class:`Message` (or :class:`Joined`) back from :meth:`Message.to_json` (with the
    same ``strings`` table when it was encoded with one); plain text as it is."""
    if isinstance(data, str) or data is None:
        return data
    if "join" in data:
        domain = str(data.get("domain", domain))
        return Joined([_value_from_json(p, strings, domain) for p in data.get("parts") or []], str(data["join"]))
    own = str(data.get("domain", domain))
    values = {k: _value_from_json(v, strings, own) for k, v in (data.get("values") or {}).items()}
    text = strings.text if strings is not None else str
    plural = data.get("plural")
    return Message(text(data.get("msgid", "")), values, plural=None if plural is None else text(plural),
                   n=data.get("n"), domain=own)


def render(text: Any, lang: str) -> str:
    """Any text in ``lang``: a :class:`Message` or :class:`Joined` translated, anything else as it is."""
    if isinstance(text, (Message, Joined)):
        return text.render(lang)
    return "" if text is None else str(text)


def template_of(text: Any, strings: Strings | None = None) -> dict | None:
    """The JSON template of a :class:`Message`/:class:`Joined` (None for plain text);
    with ``strings``, encoded against that shared table (see :class:`Strings`)."""
    if isinstance(text, (Message, Joined)):
        return text.to_json(strings)
    return None


def untranslated(text: str, domain: str = "*") -> Message:
    """Text defined elsewhere (a check's title, a step name) as a Message looked up in
    ``domain`` ("*": every registered domain), so it can be rendered in any language."""
    if isinstance(text, Message):
        return text
    return Message(str(text), domain=domain or "*")


# ---------------------------------------------------------------------------
# domains and catalogues
# ---------------------------------------------------------------------------


class Domain:
    """One distribution's translations: ``locale/messages.pot`` and ``locale/<lang>.po``.

    Creating a Domain makes it known to the renderer (by name); the distribution's
    plugin also registers it (``crm_audit_register_translations``) so ``crm-audit i18n
    coverage`` lists it and its checks' metadata is looked up in it.

    Args:
        name: a unique name, by convention the package's (``crm_audit_checks``).
        directory: the ``locale`` folder.
        sources: the folder whose code ``crm-audit i18n extract`` reads (default: the
            ``locale`` folder's parent, i.e. the package).
    """

    def __init__(self, name: str, directory: Path | str, sources: Path | str | None = None):
        self.name = name
        self.directory = Path(directory)
        self.sources = Path(sources) if sources else self.directory.parent
        self._translations: dict[str, _gettext.NullTranslations] = {}
        with _LOCK:
            _DOMAINS[name] = self

    def __repr__(self) -> str:
        return f"Domain({self.name!r}, {str(self.directory)!r})"

    def gettext(self, msgid: str, **values) -> Message:
        """A text with named values, ``{name}`` in the template."""
        return Message(msgid, values, domain=self.name)

    def ngettext(self, singular: str, plural: str, n: int, **values) -> Message:
        """A text whose form depends on the count ``n`` (also available as ``{n}``)."""
        return Message(singular, values, plural=plural, n=int(n), domain=self.name)

    def po_path(self, lang: str) -> Path:
        return self.directory / f"{lang}.po"

    @property
    def pot_path(self) -> Path:
        return self.directory / "messages.pot"

    def translations(self, lang: str) -> _gettext.NullTranslations:
        """The compiled catalogue for ``lang`` (empty when the domain has none)."""
        cached = self._translations.get(lang)
        if cached is not None:
            return cached
        with _LOCK:
            cached = self._translations.get(lang)
            if cached is None:
                cached = self._translations[lang] = _compile(self.po_path(lang), lang)
        return cached

    def reload(self) -> None:
        """Forget the compiled catalogues (after a .po file changed)."""
        self._translations.clear()


def _compile(po: Path, lang: str) -> _gettext.NullTranslations:
    if not po.exists():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(po, "rb") as fh:
        catalog = read_po(fh, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def domains() -> dict[str, Domain]:
    """Every domain created in this process, by name."""
    return dict(_DOMAINS)


def translate_template(msgid: str, plural: str | None, n: int | None, lang: str, domain: str) -> str:
    """The template of ``msgid`` in ``lang``: from ``domain`` (``"*"`` or ``""``: the first
    registered domain that has it), English when none has."""
    candidates = [_DOMAINS[domain]] if domain in _DOMAINS else (list(_DOMAINS.values()) if domain in ("", "*") else [])
    for d in candidates:
        t = d.translations(lang)
        if plural is None:
            text = t.gettext(msgid)
            if text != msgid or len(candidates) == 1:
                return text
        else:
            text = t.ngettext(msgid, plural, n if n is not None else 1)
            if text not in (msgid, plural) or len(candidates) == 1:
                return text
    if plural is not None and n != 1:
        return plural
    return msgid


CORE = Domain("crm_audit_core", Path(__file__).parent / "locale")
"""The core's own domain: report headings, step names, skip reasons, CLI lines."""
_, ngettext = CORE.gettext, CORE.ngettext


def tr(lang: str, msgid: str, **values) -> str:
    """A core text rendered at once in ``lang`` (for reporters' headings and labels)."""
    return CORE.gettext(msgid, **values).render(lang)


def ntr(lang: str, singular: str, plural: str, n: int, **values) -> str:
    """A core text with a count, rendered at once in ``lang``."""
    return CORE.ngettext(singular, plural, n, **values).render(lang)
