"""People's names for matching: Hangul and its romanisations, swapped fields, single names.

A person's name becomes a :class:`PersonName`: the given name and the family name as
comparable strings (folded, spaces and hyphens dropped: ``'Min-jun'`` -> ``'minjun'``).

* **Hangul.** A name written in Hangul is compared letter by letter with other Hangul
  (:func:`crm_audit_checks.matching.token_similarity`), and through its romanisation
  with Latin script: given names by the Revised Romanization of the kept
  ``hangul-romanize`` library (``'민준'`` -> ``'minjun'``), family names by the spellings
  Koreans actually use (``'김'`` -> Kim / Gim, ``'이'`` -> Lee / Yi / Rhee / I, ...), which
  the official romanisation does not give. A whole name in one field (``'김민준'``) is
  split into family name (first syllable, or the two-syllable families 남궁, 선우, ...)
  and given name.
* **Order.** First and last names may be swapped (in the CRM fields, or by Korean
  family-name-first order): :func:`compare_names` tries both alignments.
* **Single names.** Indonesians often have one name (*Sukarno*), stored in either field;
  a single name is compared with both names of the other record, and only the best
  agreement counts (the other part is unknown, not a disagreement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz.distance import JaroWinkler, Levenshtein

from .. import matching

_HANGUL = re.compile(r"^[\uac00-\ud7a3]+$")
_TWO_SYLLABLE_FAMILIES = frozenset("남궁 선우 제갈 황보 독고 사공 서문 동방".split())
# How Korean family names are written in Latin script in practice (passports, business
# cards); the first spelling is the blocking key. Revised Romanization alone would give
# "gim", "i", "bak", which few people use.
FAMILY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "김": ("kim", "gim"), "이": ("lee", "yi", "rhee", "i", "ri", "ree"), "박": ("park", "pak", "bak"),
    "최": ("choi", "choe", "chey"), "정": ("jung", "jeong", "chung", "joung"), "강": ("kang", "gang"),
    "조": ("cho", "jo", "joe"), "윤": ("yoon", "yun"), "장": ("jang", "chang"), "임": ("lim", "im", "rim"),
    "한": ("han",), "오": ("oh", "o"), "서": ("seo", "suh", "so"), "신": ("shin", "sin"),
    "권": ("kwon", "gwon"), "황": ("hwang",), "안": ("ahn", "an"), "송": ("song",), "전": ("jeon", "jun", "chun"),
    "홍": ("hong",), "유": ("yoo", "yu", "ryu"), "류": ("ryu", "yoo", "yu"), "고": ("ko", "go"), "문": ("moon", "mun"),
    "양": ("yang",), "손": ("son", "sohn"), "배": ("bae", "pae"), "백": ("baek", "paek", "baik"), "허": ("heo", "huh", "hur"),
    "남": ("nam",), "심": ("shim", "sim"), "노": ("noh", "no", "roh"), "하": ("ha",), "곽": ("kwak", "gwak"),
    "성": ("sung", "seong"), "차": ("cha",), "주": ("joo", "ju", "chu"), "우": ("woo", "u"), "구": ("koo", "gu", "ku"),
    "민": ("min",), "나": ("na", "ra"), "진": ("jin", "chin"), "지": ("ji", "chi"), "엄": ("eom", "um"),
    "채": ("chae",), "원": ("won",), "천": ("cheon", "chun"), "방": ("bang",), "공": ("kong", "gong"),
    "현": ("hyun", "hyeon"), "함": ("ham",), "변": ("byun", "byeon"), "염": ("yeom", "yum"), "여": ("yeo", "yuh"),
    "추": ("choo", "chu"), "도": ("do", "doh"), "소": ("so",), "석": ("seok", "suk"), "선": ("sun", "seon"),
    "설": ("seol", "sul"), "마": ("ma",), "길": ("gil", "kil"), "연": ("yeon", "yun"), "위": ("wi", "wee"),
    "표": ("pyo",), "명": ("myung", "myeong"), "기": ("ki", "gi"), "반": ("ban",), "왕": ("wang",),
    "금": ("keum", "geum"), "옥": ("ok",), "육": ("yook", "yuk"), "인": ("in",), "맹": ("maeng",),
    "제": ("je",), "모": ("mo",), "탁": ("tak",), "국": ("kook", "guk"), "어": ("eo", "uh"), "은": ("eun",),
    "편": ("pyeon", "pyun"), "용": ("yong",), "예": ("ye",), "경": ("kyung", "gyeong"), "봉": ("bong",),
    "사": ("sa",), "부": ("boo", "bu"), "황보": ("hwangbo",), "남궁": ("namkung", "namgung"),
    "선우": ("sunwoo", "seonu"), "제갈": ("jegal",), "독고": ("dokgo",), "사공": ("sagong",),
}


def is_hangul(text: str) -> bool:
    return bool(text) and bool(_HANGUL.match(text))


@lru_cache(maxsize=100_000)
def romanise(text: str) -> str:
    """Revised Romanization of a Hangul word, letter by letter, folded (``'민준'`` -> ``'minjun'``,
    ``'서연'`` -> ``'seoyeon'``), by the ``hangul-romanize`` library (BSD licence)."""
    return matching.fold(_transliterator().translit(text)).replace(" ", "")


@lru_cache(maxsize=1)
def _transliterator():
    from hangul_romanize import Transliter
    from hangul_romanize.rule import academic

    return Transliter(academic)


def family_spellings(hangul: str) -> tuple[str, ...]:
    """Latin spellings of a Hangul family name, the most common first."""
    known = FAMILY_SPELLINGS.get(hangul)
    return known if known else (romanise(hangul),)


# Spellings that differ between the official romanisation and what people write
# (Jihoon / Jihun, Seon / Sun, Eun-ji / Eunji, Kyung / Gyeong): compared loosely.
_LOOSE = (("oo", "u"), ("eo", "o"), ("ee", "i"), ("ou", "u"), ("wu", "u"), ("ae", "e"), ("yu", "u"),
          ("ch", "j"), ("sh", "s"), ("k", "g"), ("p", "b"), ("t", "d"))


@lru_cache(maxsize=100_000)
def loose(latin: str) -> str:
    """A Latin spelling of a Korean name with the usual variations folded together."""
    for old, new in _LOOSE:
        latin = latin.replace(old, new)
    return latin


@dataclass(frozen=True)
class PersonName:
    """A name ready to compare: given and family as folded strings without spaces."""

    given: str = ""
    family: str = ""
    parts: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    single: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:  # computed once: compare_names reads them for every pair
        parts = tuple(p for p in (self.given, self.family) if p)
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "single", len(parts) == 1)


@lru_cache(maxsize=300_000)
def person_name(first: str | None, last: str | None) -> PersonName:
    """``('Min-jun', 'Kim')`` -> given ``'minjun'``, family ``'kim'``; ``('김민준', None)`` ->
    given ``'민준'``, family ``'김'``; ``('Sukarno', None)`` -> a single name."""
    given, family = matching.fold(first).replace(" ", ""), matching.fold(last).replace(" ", "")
    if bool(given) != bool(family):
        whole = given or family
        if is_hangul(whole) and 2 <= len(whole) <= 5:
            cut = 2 if whole[:2] in _TWO_SYLLABLE_FAMILIES and len(whole) > 2 else 1
            return PersonName(given=whole[cut:], family=whole[:cut])
        words = matching.fold(first or last).split()
        if len(words) >= 2:  # "Budi Santoso" in one field
            return PersonName(given="".join(words[:-1]), family=words[-1])
    return PersonName(given=given, family=family)


@lru_cache(maxsize=500_000)
def part_similarity(a: str, b: str, family: bool) -> float:
    """Similarity in [0, 1] of two name parts, across Hangul and Latin script."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    ha, hb = is_hangul(a), is_hangul(b)
    if ha and hb:
        return matching.token_similarity(a, b)
    if ha != hb:
        hangul, latin = (a, b) if ha else (b, a)
        if family and hangul in FAMILY_SPELLINGS or (family and len(hangul) <= 2):
            spellings = family_spellings(hangul)
            if latin in spellings:
                return 1.0
            return max(JaroWinkler.normalized_similarity(s, latin) for s in spellings)
        roman = romanise(hangul)
        if roman == latin:
            return 1.0
        loose_roman, loose_latin = loose(roman), loose(latin)
        if loose_roman == loose_latin:
            return 1.0
        return max(JaroWinkler.normalized_similarity(roman, latin),
                   JaroWinkler.normalized_similarity(loose_roman, loose_latin))
    return JaroWinkler.normalized_similarity(a, b)


def part_level(a: str, b: str, family: bool) -> int:
    """0 different, 1 similar (Jaro-Winkler >= 0.80), 2 one typo (>= 0.92 or one edit), 3 identical."""
    if not a or not b:
        return -1
    similarity = part_similarity(a, b, family)
    if similarity >= 1.0:
        return 3
    if similarity >= 0.92 or (min(len(a), len(b)) >= 4 and Levenshtein.distance(a, b, score_cutoff=1) <= 1):
        return 2
    return 1 if similarity >= 0.80 else 0


def compare_names(a: PersonName, b: PersonName) -> tuple[int, int, bool]:
    """(given-name level, family-name level, swapped) of two names; -1 where a part is unknown.

    Both alignments are tried (as written, and given <-> family swapped) and the better
    kept. A single name is compared with each part of the other name; its best
    agreement is reported as the family-name level, the given name as unknown.
    """
    if not a.parts or not b.parts:
        return -1, -1, False
    if a.single or b.single:
        one, other = (a, b) if a.single else (b, a)
        word = one.parts[0]
        best = max(part_level(word, p, family) for p, family in ((other.given, False), (other.family, True)) if p)
        return -1, best, False
    straight = (part_level(a.given, b.given, False), part_level(a.family, b.family, True))
    swapped = (part_level(a.given, b.family, True), part_level(a.family, b.given, True))
    if sum(swapped) > sum(straight):
        return swapped[0], swapped[1], True
    return straight[0], straight[1], False


@lru_cache(maxsize=300_000)
def blocking_tokens(value: str | None) -> str:
    """The words of a name field for blocking keys, with Hangul also in its Latin spelling
    (``'김'`` -> ``'김 kim'``, ``'민준'`` -> ``'민준 minjun'``; ``'Min-jun'`` -> ``'minjun'``)."""
    folded = matching.fold(value)
    words = [w for w in folded.split() if w]
    out = []
    for word in words:
        out.append(word)
        if is_hangul(word):
            if len(word) == 1 or word in FAMILY_SPELLINGS:
                out.append(family_spellings(word)[0])
            elif 2 <= len(word) <= 5 and len(words) == 1:
                cut = 2 if word[:2] in _TWO_SYLLABLE_FAMILIES and len(word) > 2 else 1
                out.extend([word[cut:], family_spellings(word[:cut])[0], romanise(word[cut:])])
            else:
                out.append(romanise(word))
    if len(words) > 1 and not any(is_hangul(w) for w in words):
        out.append("".join(words))  # "min jun" also as "minjun"
    return " ".join(out)
