"""Comparisons of contacts and companies: which fields, which levels, which documented priors.

:func:`contact_comparisons` and :func:`company_comparisons` choose the comparisons
from the columns the tenant supplied (no e-mail column: no e-mail comparison, and so
on) plus the identifiers the user named. A record is a plain dict of comparable keys
(built by ``duplicates.py``, partly in SQL so that term frequencies counted in SQL use
the same keys); :func:`compare` turns two records into a comparison vector (the level
of each comparison, :data:`~.fs.NULL` when a side is missing) and the keys whose term
frequency adjusts the top level.

The priors (``prior_m``, ``prior_u``) are what the model uses when a tenant is too small
to learn from (see :mod:`.fs`); they are round numbers in line with published
Fellegi-Sunter parameters for person data: a name part is identical for about 3 in 4
duplicate pairs and 1 in 200 random pairs, an e-mail or phone is shared by about 2 in 3
duplicate pairs and almost never by chance, and so on. They are documented in
``docs/checks/data.duplicate-contacts.md``.
"""

from __future__ import annotations

import re
from typing import Callable

from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from .. import matching
from . import names
from .fs import NULL, Comparison

NAME_LEVELS = ("different", "similar", "one typo", "identical")
NAME_M = (0.04, 0.06, 0.15, 0.75)
NAME_U = (0.93, 0.05, 0.015, 0.005)


def _comparison(name, label, levels, m, u, tf=True, identity=True) -> Comparison:
    return Comparison(name=name, label=label, levels=tuple(levels), prior_m=tuple(m), prior_u=tuple(u), tf=tf,
                      identity=identity)


GIVEN = _comparison("given_name", "given name", NAME_LEVELS, NAME_M, NAME_U, identity=False)
FAMILY = _comparison("family_name", "family name", NAME_LEVELS, NAME_M, NAME_U, identity=False)
EMAIL = _comparison("email", "e-mail", ("different", "identical"), (0.15, 0.85), (0.99999, 1e-5))
PHONE = _comparison("phone", "phone", ("different", "identical"), (0.15, 0.85), (0.99999, 1e-5))
COMPANY = _comparison("company", "company", ("different", "similar company name", "same work domain", "same company"),
                      (0.10, 0.05, 0.10, 0.75), (0.9988, 4e-4, 4e-4, 4e-4))
STREET = _comparison("street", "street",
                     ("different", "same street, other number", "same house number", "one typo", "identical"),
                     (0.06, 0.03, 0.07, 0.12, 0.72), (0.95, 0.02, 0.029, 7e-4, 1e-4))
# Postcode and city in one comparison: they are strongly correlated (one postcode, one
# city), so two separate weights would count the same evidence twice.
PLACE = _comparison("place", "postal code and city",
                    ("different", "same state", "similar", "same city", "same postal code", "same postal code and city"),
                    (0.04, 0.03, 0.05, 0.05, 0.10, 0.73), (0.80, 0.15, 0.02, 0.02, 0.005, 0.005))
COMPANY_NAME = _comparison("name", "company name", NAME_LEVELS, (0.02, 0.08, 0.15, 0.75), (0.97, 0.025, 0.004, 0.001),
                           identity=False)
DOMAIN = _comparison("domain", "web domain", ("different", "identical"), (0.25, 0.75), (0.9999, 1e-4))
COUNTRY = _comparison("country", "country", ("different", "identical"), (0.03, 0.97), (0.7, 0.3), tf=False,
                      identity=False)


def identifier_comparison(column: str) -> Comparison:
    """A user-named identifier (a national id, NIK, a customer number, a date of birth)."""
    # Two records of one person rarely hold entirely different values of an identifier
    # (1 in 100); a typo is "one character apart". A contradiction costs at least 6.6 bits.
    return _comparison(f"id:{column}", column, ("different", "one character apart", "identical"),
                       (0.01, 0.09, 0.90), (0.99989, 1e-4, 1e-5))


# ----------------------------------------------------------------------- field levels


def _text_level(a, b, top: int) -> int:
    """Levels of a free-text field: identical top, one typo top-1, similar top-2 (4 levels)."""
    if not a or not b:
        return NULL
    if a == b:
        return top
    similarity = JaroWinkler.normalized_similarity(a, b)
    if similarity >= 0.92 or (min(len(a), len(b)) >= 4 and Levenshtein.distance(a, b, score_cutoff=1) <= 1):
        return top - 1
    return top - 2 if top >= 3 and similarity >= 0.80 else 0


_DIGITS = re.compile(r"\d+")


def _street_level(a, b) -> int:
    """Street levels. Two different house numbers are two addresses, however alike the rest
    (``'183 Congress Ave'`` / ``'252 Congress Ave'``: "same street, other number"); the same
    house number on a different street name is a level of its own (a typo in the street
    name, or chance: the data decides its weight)."""
    x, y = a["street"], b["street"]
    if not x or not y:
        return NULL
    if x == y:
        return 4
    similar = _text_level(x, y, 3) >= 1  # Jaro-Winkler >= 0.80 or one edit
    numbers_x, numbers_y = _DIGITS.findall(x), _DIGITS.findall(y)
    if numbers_x != numbers_y:
        return 1 if similar else 0
    if similar:
        return 3
    return 2 if numbers_x else 0


def _code_level(a, b) -> int:
    """Identical 2, one character apart 1 (a typo or two swapped characters in a postcode or
    an id: optimal string alignment distance 1), else 0."""
    if not a or not b:
        return NULL
    if a == b:
        return 2
    return 1 if OSA.distance(a, b, score_cutoff=1) <= 1 else 0


def _email_level(a, b) -> int:
    if not a["email"] or not b["email"]:
        return NULL
    # Only the whole address: mailbox names are made from people's names, so "the same
    # mailbox name at another domain" would count the name a second time.
    return int(a["email"] == b["email"])


def _phone_level(a, b) -> int:
    if not a["phone"] or not b["phone"]:
        return NULL
    return 1 if matching.same_phone(a["phone"], a["country"], b["phone"], b["country"]) else 0


def _company_level(a, b) -> int:
    if not (a["company"] or a["domains"]) or not (b["company"] or b["domains"]):
        return NULL
    if a["company"] and a["company"] == b["company"]:
        return 3
    if a["domains"] & b["domains"]:
        return 2
    ca, cb = a.get("company_name") or "", b.get("company_name") or ""
    if ca and cb and matching.company_similarity(ca, cb) >= 0.9:
        return 1
    return 0


# ----------------------------------------------------------------------- comparison sets

# comparison name -> (level function, record key whose value's term frequency adjusts the top level)
Rule = tuple[Comparison, Callable[[dict, dict], int], str | None]


def contact_comparisons(has: dict[str, bool], identifiers: list[str]) -> list[Rule]:
    """The comparisons the supplied contact columns allow, in a fixed order."""
    rules: list[Rule] = [(GIVEN, None, "given"), (FAMILY, None, "family")]
    if has.get("email"):
        rules.append((EMAIL, _email_level, "email"))
    if has.get("phone"):
        rules.append((PHONE, _phone_level, "phone_tail"))
    if has.get("company_id") or has.get("company_name") or has.get("email"):
        rules.append((COMPANY, _company_level, "company"))
    if has.get("street"):
        rules.append((STREET, _contact_street_level, "street"))
    if has.get("postal_code") or has.get("city") or has.get("state"):
        rules.append((PLACE, _contact_place_level, "postal_code" if has.get("postal_code") else "city"))
    for column in identifiers:
        key = f"id:{column}"
        rules.append((identifier_comparison(column), lambda a, b, k=key: _code_level(a.get(k), b.get(k)), key))
    return rules


def _place_level(a, b) -> int:
    """Levels of :data:`PLACE` (postcode, city and state together)."""
    postcode = _code_level(a["postal_code"], b["postal_code"])
    city = _text_level(a["city"], b["city"], 2)
    state = NULL if not a.get("state") or not b.get("state") else int(a["state"] == b["state"])
    if postcode == NULL and city == NULL and state == NULL:
        return NULL
    if postcode == 2:
        return 5 if city == 2 else 4
    if city == 2:
        return 3
    if postcode == 1 or city == 1:
        return 2
    return 1 if state == 1 else 0


def _colleagues(a, b) -> bool:
    return bool(a["company"]) and a["company"] == b["company"]


def _contact_place_level(a, b) -> int:
    """:func:`_place_level`, except for colleagues: two contacts of the same company share its
    address whoever they are, so there the address is no evidence (NULL)."""
    return NULL if _colleagues(a, b) else _place_level(a, b)


def _contact_street_level(a, b) -> int:
    """:func:`_street_level`, NULL for colleagues (see :func:`_contact_place_level`)."""
    return NULL if _colleagues(a, b) else _street_level(a, b)


def company_comparisons(has: dict[str, bool], identifiers: list[str]) -> list[Rule]:
    """The comparisons the supplied company columns allow, in a fixed order."""
    rules: list[Rule] = [(COMPANY_NAME, _company_name_level, "name")]
    if has.get("domain"):
        rules.append((DOMAIN, lambda a, b: NULL if not a["domain"] or not b["domain"] else int(a["domain"] == b["domain"]),
                      "domain"))
    if has.get("phone"):
        rules.append((PHONE, _phone_level, "phone_tail"))
    if has.get("street"):
        rules.append((STREET, _street_level, "street"))
    if has.get("postal_code") or has.get("city") or has.get("state"):
        rules.append((PLACE, _place_level, "postal_code" if has.get("postal_code") else "city"))
    if has.get("country"):
        rules.append((COUNTRY, lambda a, b: NULL if not a["country"] or not b["country"]
                      else int(a["country"] == b["country"]), None))
    for column in identifiers:
        key = f"id:{column}"
        rules.append((identifier_comparison(column), lambda a, b, k=key: _code_level(a.get(k), b.get(k)), key))
    return rules


def _company_name_level(a, b) -> int:
    x, y = a["name"], b["name"]
    if not x or not y:
        return NULL
    if x == y or x.replace(" ", "") == y.replace(" ", ""):
        return 3
    similarity = matching.company_similarity(x, y)
    if similarity >= 0.95:
        return 2
    return 1 if similarity >= 0.85 else 0


def compare(rules: list[Rule], a: dict, b: dict) -> tuple[list[int], list[str | None], bool]:
    """Levels of every comparison for records ``a`` and ``b``, the term-frequency key of each
    (``a``'s value where it matters), and whether the names were swapped."""
    levels: list[int] = []
    keys: list[str | None] = []
    swapped = False
    name_levels = None
    for comparison, level_of, tf_key in rules:
        if comparison is GIVEN or comparison is FAMILY:
            if name_levels is None:
                given, family, swapped = names.compare_names(a["person"], b["person"])
                name_levels = (given, family)
            level = name_levels[0] if comparison is GIVEN else name_levels[1]
            if swapped:
                tf_value = a["person"].family if comparison is GIVEN else a["person"].given
            else:
                tf_value = a["person"].given if comparison is GIVEN else a["person"].family
            if a["person"].single or b["person"].single:
                tf_value = (a["person"] if a["person"].single else b["person"]).parts[0]
            levels.append(level)
            keys.append(tf_value or None)
            continue
        level = level_of(a, b)
        levels.append(level)
        keys.append(a.get(tf_key) if tf_key else None)
    return levels, keys, swapped


_SPACES = re.compile(r"\s+")


def street_key(value) -> str | None:
    """Comparable street: folded, without spaces (``'12 Wallaby Pl.'`` -> ``'12wallabypl'``)."""
    key = matching.fold(value).replace(" ", "")
    return key or None


def code_key(value) -> str | None:
    """Comparable postcode or identifier: upper case, without spaces, dots and dashes."""
    if value is None:
        return None
    key = re.sub(r"[\s.\-/]+", "", str(value)).upper()
    return key or None
