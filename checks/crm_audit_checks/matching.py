"""Normalisation, deal rules, clusters and keepers shared by the duplicate checks.

Everything here is a pure function of its arguments (no store, no context). Contacts and
companies are matched by the probabilistic model of :mod:`crm_audit_checks.linkage`, which
uses the normalisers below; deals by the rules of :func:`match_deals`.

* **Normalise.** E-mail: NFKC, casefold, ``+tag`` removed, dots removed for gmail.com.
  Phone: E.164 through ``phonenumbers`` with the record's country as default region.
  Names: NFKC, casefold, accents stripped (Hangul kept), punctuation dropped.
  Company names: the same, then legal forms (PT, Tbk, Inc, GmbH, 주식회사, (주) ...) removed.
* **Cluster.** Union-find over the matching pairs (:func:`clusters`).
* **Keep.** Per cluster the most complete record, then the most recently updated
  (:func:`choose_keeper`; other rules in :mod:`crm_audit_checks.linkage.merge`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Iterable, Sequence

import phonenumbers
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.fuzz import ratio, token_sort_ratio

from .i18n import ngettext

# --------------------------------------------------------------------------- text

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_UNDERSCORE = re.compile(r"_+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


@lru_cache(maxsize=200_000)
def fold(text: str | None) -> str:
    """Comparable form of free text: NFKC, casefold, accents stripped, punctuation dropped.

    ``'ＪＯＳÉ  O'Brien'`` -> ``'jose obrien'``; Hangul syllables survive unchanged
    (NFKD splits them into jamo, NFC puts them back together).
    """
    if not text:
        return ""
    text = str(text)
    if text.isascii():  # NFKC, NFKD and NFC leave ASCII as it is, and casefold is lower
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        text = text.replace("ß", "ss")
        decomposed = unicodedata.normalize("NFKD", text)
        text = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    text = text.replace("'", "").replace("\u2019", "")
    text = _UNDERSCORE.sub(" ", _PUNCT.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


def name_tokens(first: str | None, last: str | None) -> tuple[str, ...]:
    """The folded tokens of a person's name, first name first."""
    return tuple(t for t in f"{fold(first)} {fold(last)}".split() if t)


# --------------------------------------------------------------------------- e-mail

GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}
# Web-mail domains: sharing one says nothing about working at the same company.
FREE_MAIL_DOMAINS = frozenset(
    """gmail.com googlemail.com yahoo.com yahoo.co.id yahoo.com.sg yahoo.co.uk yahoo.co.kr ymail.com
    outlook.com hotmail.com live.com msn.com icloud.com me.com aol.com proton.me protonmail.com
    gmx.de gmx.net web.de t-online.de naver.com daum.net hanmail.net kakao.com nate.com
    btinternet.com bigpond.com singnet.com.sg mail.com zoho.com qq.com 163.com""".split()
)


def normalise_email(value: str | None) -> str | None:
    """``' John.Smith+News@GMail.com '`` -> ``'johnsmith@gmail.com'``; None when not an address.

    Lower-cases the whole address (mailbox parts are case-insensitive in practice),
    drops a ``+tag``, and drops dots only for gmail.com, the one big provider that
    ignores them. Must agree with :data:`EMAIL_KEY_SQL`.
    """
    if not value:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if text.startswith("mailto:"):
        text = text[7:]
    local, at, domain = text.rpartition("@")
    domain = domain.strip().rstrip(".")
    if not at or not local or not domain or " " in local:
        return None
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.replace(".", "")
    if not local:
        return None
    return f"{local}@{domain}"


def email_domain(value: str | None) -> str | None:
    """The domain of a normalised address, or None for web-mail (it says nothing about a company)."""
    if not value or "@" not in value:
        return None
    domain = value.rsplit("@", 1)[1]
    return None if domain in FREE_MAIL_DOMAINS else domain


def normalise_domain(value: str | None) -> str | None:
    """``'https://www.Acme.co.id/about'`` -> ``'acme.co.id'``."""
    if not value:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("@")[-1].split(":", 1)[0].rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    return text or None


# The same e-mail key in DuckDB SQL, over a column named ``email`` (used for blocking).
# The mailbox is the text before the last "@", the domain the text after it, split with
# string functions (the regular expressions they replace, ``'^(.*)@[^@]*$'`` and
# ``'@([^@]*)$'``, cost a third more at 1M contacts). As with those, a mailbox holding a
# line feed gives no key (``.`` never matches one). checks/tests/test_matching.py holds
# it to the regular-expression form on random text.
_EMAIL_TEXT = "lower(trim(email))"
_EMAIL_BOX = f"array_to_string(string_split({_EMAIL_TEXT}, '@')[1:-2], '@')"
_EMAIL_DOMAIN_SQL = f"(CASE WHEN contains(email, '@') THEN string_split({_EMAIL_TEXT}, '@')[-1] ELSE '' END)"
_EMAIL_BOX_SQL = (f"(CASE WHEN NOT contains(email, '@') OR contains({_EMAIL_BOX}, chr(10)) THEN '' "
                  f"ELSE {_EMAIL_BOX} END)")
EMAIL_KEY_SQL = f"""
CASE WHEN {_EMAIL_DOMAIN_SQL} IN ('gmail.com', 'googlemail.com')
     THEN nullif(replace(split_part({_EMAIL_BOX_SQL}, '+', 1), '.', ''), '') || '@gmail.com'
     ELSE nullif(split_part({_EMAIL_BOX_SQL}, '+', 1), '') || '@' || nullif(rtrim({_EMAIL_DOMAIN_SQL}, '.'), '')
END
""".strip()

# The last 8 digits of a phone, in SQL, over a column named ``phone``: cheap, format-blind
# (national vs international) blocking key; E.164 decides afterwards.
PHONE_TAIL_DIGITS = 8
PHONE_TAIL_SQL = (
    "CASE WHEN length(regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g')) >= 8 "
    "THEN right(regexp_replace(phone, '[^0-9]', '', 'g'), 8) END"
)


# --------------------------------------------------------------------------- phone


@lru_cache(maxsize=500_000)
def normalise_phone(value: str | None, country: str | None = None) -> str | None:
    """E.164 form (``'0812-3456-7890'``, ``'ID'`` -> ``'+6281234567890'``); None if unparseable.

    The record's country is the default region for numbers written nationally. A
    number that does not parse keeps its bare digits, so two identical bad numbers
    still compare equal.
    """
    if not value:
        return None
    text = str(value).strip()
    region = (country or "").strip().upper() or None
    if region and len(region) != 2:
        region = None
    try:
        number = phonenumbers.parse(text, region)
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"\D", "", text)
    return digits or None


def same_phone(a: str | None, a_country: str | None, b: str | None, b_country: str | None) -> bool:
    """True when two written phones are one number (E.164), parsing only when it can matter.

    Numbers whose last 8 digits differ are different whatever their format, so the
    (slow) parse runs only for the few pairs that share those digits.
    """
    if not a or not b:
        return False
    if a == b and (a_country or "") == (b_country or ""):
        return True
    if phone_tail(a) != phone_tail(b):
        return False
    return normalise_phone(a, a_country) == normalise_phone(b, b_country)


@lru_cache(maxsize=500_000)
def phone_tail(value: str | None) -> str | None:
    """The blocking key of :data:`PHONE_TAIL_SQL` in Python."""
    digits = re.sub(r"[^0-9]", "", value or "")
    return digits[-PHONE_TAIL_DIGITS:] if len(digits) >= PHONE_TAIL_DIGITS else None


# --------------------------------------------------------------------------- companies

# Legal forms, written folded and without dots ("Pty. Ltd." folds to "pty ltd", "S.A." to "sa").
LEGAL_FORM_TOKENS = frozenset(
    """pt cv tbk persero inc incorporated corp corporation co company cos ltd limited llc llp lp
    plc pty pte gmbh ag kg ohg ug mbh eg sa sas sarl srl spa bv nv ab as oy kk sdn bhd bhd ltda
    cia gk""".split()
)
# Korean forms, removed wherever they stand (they are often written without a space).
_KR_LEGAL = re.compile(r"\(\s*주\s*\)|㈜|주식회사|유한회사|\(\s*유\s*\)")
_DOTTED_ABBREVIATION = re.compile(r"\b(\w)\.(?=\w\b|\w\.)")


@lru_cache(maxsize=300_000)
def normalise_company(value: str | None) -> str:
    """A company name without its legal form: ``'PT Sinar Maju Tbk'`` -> ``'sinar maju'``.

    ``'(주)한빛테크'``, ``'주식회사 한빛테크'`` and ``'한빛테크 주식회사'`` all give ``'한빛테크'``;
    ``'Acme Co., Ltd.'``, ``'ACME, Inc.'`` and ``'Acme S.A.'`` all give ``'acme'``. Legal
    forms are only stripped at either end, and never the last remaining word.
    """
    if not value:
        return ""
    text = str(value)
    if not text.isascii():
        text = _KR_LEGAL.sub(" ", unicodedata.normalize("NFKC", text))
    text = _DOTTED_ABBREVIATION.sub(r"\1", text)  # "S.A." -> "SA.", "Co., Ltd." unchanged
    tokens = fold(text.replace("&", " and ")).split()
    while len(tokens) > 1 and tokens[-1] in LEGAL_FORM_TOKENS:
        tokens.pop()
    while len(tokens) > 1 and tokens[0] in LEGAL_FORM_TOKENS:
        tokens.pop(0)
    return " ".join(tokens)


def company_similarity(a: str, b: str) -> float:
    """Similarity in [0, 1] of two normalised company names (space-blind)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    a_flat, b_flat = a.replace(" ", ""), b.replace(" ", "")
    if a_flat == b_flat:
        return 1.0
    return max(JaroWinkler.normalized_similarity(a_flat, b_flat), token_sort_ratio(a, b) / 100)


# --------------------------------------------------------------------------- names


def _letters(token: str) -> str:
    """Hangul syllables split into letters (jamo), so that edit-based scores see one typo as one."""
    return unicodedata.normalize("NFD", token) if _HANGUL.search(token) else token


@lru_cache(maxsize=500_000)
def token_similarity(a: str, b: str) -> float:
    """Jaro-Winkler similarity of two name words (Hangul compared letter by letter)."""
    if a == b:
        return 1.0
    if len(a) == 1 and len(b) == 1 and _HANGUL.match(a) and _HANGUL.match(b):
        # One-syllable Korean family names one letter apart are different families
        # (이 / 임, 정 / 전, 김 / 금), not typos: an input method types whole syllables.
        return 0.0
    return JaroWinkler.normalized_similarity(_letters(a), _letters(b))


# --------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class DealKeys:
    id: str
    name: str = ""  # fold(name)
    account: str | None = None  # company id, else contact id
    amount: float | None = None
    pipeline: str | None = None


def deal_keys(id, name, company_id=None, contact_id=None, amount=None, pipeline=None) -> DealKeys:
    account = company_id if company_id not in (None, "") else contact_id
    return DealKeys(
        id=str(id),
        name=fold(name),
        account=str(account) if account not in (None, "") else None,
        amount=float(amount) if amount is not None else None,
        pipeline=pipeline or None,
    )


def match_deals(a: DealKeys, b: DealKeys, *, name_threshold: float = 0.90, amount_tolerance: float = 0.01) -> str | None:
    """Why two deals are one: the same company (or contact), similar names and equal amounts.

    A company can have several genuine deals, so a shared account never suffices: the
    names must be near-identical and the amounts (when both are known) within
    ``amount_tolerance`` of each other.
    """
    if not a.account or a.account != b.account or not a.name or not b.name:
        return None
    if a.pipeline and b.pipeline and a.pipeline != b.pipeline:
        return None
    if a.amount is not None and b.amount is not None:
        larger = max(abs(a.amount), abs(b.amount))
        if larger and abs(a.amount - b.amount) > amount_tolerance * larger:
            return None
    # Indel ratio, not Jaro-Winkler: deal names often share a long prefix (the company's
    # name) and differ at the end ("Acme - Licenses" / "Acme - Add-on"), which
    # Jaro-Winkler would reward.
    similarity = 1.0 if a.name == b.name else ratio(a.name, b.name) / 100
    return "name" if similarity >= name_threshold else None


# --------------------------------------------------------------------------- clusters


class UnionFind:
    """Disjoint sets over hashable items, with path halving and union by size."""

    def __init__(self) -> None:
        self.parent: dict = {}
        self.size: dict = {}

    def find(self, item):
        parent = self.parent
        if item not in parent:
            parent[item] = item
            self.size[item] = 1
            return item
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def groups(self) -> list[list]:
        out: dict = {}
        for item in self.parent:
            out.setdefault(self.find(item), []).append(item)
        return [g for g in out.values() if len(g) > 1]


def _id_order(value: str):
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def clusters(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Connected components of the matching pairs, each sorted, in a stable order."""
    uf = UnionFind()
    for a, b in pairs:
        uf.union(a, b)
    groups = [sorted(g, key=_id_order) for g in uf.groups()]
    groups.sort(key=lambda g: _id_order(g[0]))
    return groups


# --------------------------------------------------------------------------- keeper


def filled(value) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and value != value:  # NaN
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple)):
        return bool(value)
    return True


@dataclass(frozen=True)
class Keeper:
    id: str
    filled: int
    fields: int
    updated_at: datetime | None
    rule: str  # "most complete", "most recent", "lowest id"

    def describe(self) -> str:
        """``keep 3: 12 of 15 fields filled, updated 1 May 2026`` (a translatable template)."""
        if self.updated_at:
            return ngettext("keep {record}: {filled} of {n} field filled, updated {updated}",
                            "keep {record}: {filled} of {n} fields filled, updated {updated}",
                            self.fields, record=self.id, filled=self.filled, updated=self.updated_at)
        return ngettext("keep {record}: {filled} of {n} field filled", "keep {record}: {filled} of {n} fields filled",
                        self.fields, record=self.id, filled=self.filled)


def choose_keeper(records: Sequence[dict], fields: Sequence[str]) -> Keeper:
    """The record to keep: most fields filled, then most recently updated, then lowest id.

    ``records`` are dicts holding ``id``, ``updated_at`` and the ``fields`` counted.
    ``rule`` says which criterion decided.
    """
    def completeness(r):
        return sum(1 for f in fields if filled(r.get(f)))

    scored = [(completeness(r), r.get("updated_at"), str(r["id"]), r) for r in records]
    best_fill = max(s[0] for s in scored)
    top = [s for s in scored if s[0] == best_fill]
    rule = "most complete"
    if len(top) > 1:
        stamps = [s[1] for s in top if s[1] is not None]
        newest = max(stamps) if stamps else None
        recent = [s for s in top if s[1] == newest] if newest is not None else top
        rule = "most recent" if len(recent) < len(top) else "lowest id"
        top = recent
    top.sort(key=lambda s: _id_order(s[2]))
    chosen = top[0]
    return Keeper(id=chosen[2], filled=chosen[0], fields=len(fields), updated_at=chosen[1], rule=rule)


def creator(record: dict) -> str:
    """Who created a record: the integration (source_detail) or the source (ui, import, ...)."""
    detail = (record.get("source_detail") or "").strip() if isinstance(record.get("source_detail"), str) else ""
    if detail:
        return detail
    source = record.get("source")
    return str(source).strip() if isinstance(source, str) and source.strip() else "unknown"


def clear_caches(keep: frozenset = frozenset({"normalise_company"})) -> None:
    """Forget the memoised normalisations (this module's and :mod:`.linkage.names`'), which
    hold one tenant's distinct names and phones, but those named in ``keep``: by default the
    company names, which the contact and company checks both normalise (bounded at 300,000)."""
    from .linkage import names

    for module in (globals(), vars(names)):
        for key, value in list(module.items()):
            if (key not in keep and callable(getattr(value, "cache_clear", None))
                    and getattr(value, "__module__", "").startswith("crm_audit_checks")):
                value.cache_clear()
