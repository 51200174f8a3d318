"""SQL that proves phone numbers valid from phonenumbers' own metadata, read at run time.

``data.invalid-phones`` asks phonenumbers about every distinct (number, region) pair the
SQL here cannot vouch for. The SQL only ever says "certainly valid": it follows
``phonenumbers.parse`` and ``is_valid_number`` step by step for the common shapes (ASCII
digits with spaces, dashes, dots and parentheses, with or without a leading ``+``), and
answers false (leaving the number to Python) whenever a step could go another way: an
international or trunk prefix that phonenumbers might strip differently, a national
number that starts with its own country code, a national-prefix transform rule, a
calling code shared by several regions where the first region does not claim the number,
or any pattern outside the plain syntax Python's ``re`` and RE2 (DuckDB's regex engine)
read alike (``COMMON_SYNTAX``). The patterns and lengths are
the library's (``PhoneMetadata``), never copies, so the SQL follows the installed
version; tests/test_stale_data_identical.py holds it to phonenumbers' verdicts.
"""

from __future__ import annotations

import re

# The shapes worth proving: ASCII digits and the separators people type, an optional
# leading plus. (Anything else, letters, extensions, other scripts' digits, goes to Python.)
PHONE_SHAPE = r"\+?[0-9 ().-]{3,40}"
# The metadata descriptions is_valid_number tries after the general one (any match: valid).
TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
              "fixed_line", "mobile")
MAX_CODE_DIGITS = 3
# The regex syntax phonenumbers' patterns use and both engines read the same way on a
# string of ASCII digits: digits, \d, classes, groups, alternation, quantifiers, anchors.
# No lookarounds, backreferences, possessive or atomic forms (RE2 refuses or differs).
# ("{,n}" is a quantifier to Python but literal text to RE2: a comma never follows "{".)
COMMON_SYNTAX = re.compile(r"(?:[0-9\[\]()|{}*?^$-]|(?<!\{),|(?<![*+?}])\+|\\d|\(\?:)*")


def common_syntax(pattern: str) -> bool:
    """True when ``pattern`` means the same to Python's ``re`` and to RE2 (see COMMON_SYNTAX)."""
    return COMMON_SYNTAX.fullmatch(pattern) is not None


class PhoneRules:
    """Builds the SQL proof for the regions and calling codes of one tenant.

    A region with any pattern outside :data:`COMMON_SYNTAX` is never proved in SQL.
    Patterns travel as named parameters, collected in :attr:`params`.
    """

    def __init__(self):
        self.params: dict[str, str] = {}
        self._names: dict[str, str] = {}

    def _param(self, pattern: str) -> str | None:
        if pattern not in self._names:
            if not common_syntax(pattern):
                return None
            name = f"ph{len(self._names)}"
            self._names[pattern] = name
            self.params[name] = pattern
        return "$" + self._names[pattern]

    def _desc(self, nsn: str, desc) -> str | None:
        """SQL for phonenumbers' ``_is_number_matching_desc(nsn, desc)``; None: not expressible."""
        pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
        if not pattern:
            return "FALSE"
        name = self._param(pattern)
        if name is None:
            return None
        lengths = tuple(desc.possible_length or ())
        length = f"length({nsn}) IN ({', '.join(str(n) for n in lengths)}) AND " if lengths else ""
        return f"({length}regexp_full_match({nsn}, {name}))"

    def _valid_for(self, nsn: str, metadata) -> str | None:
        """SQL for ``_number_type_helper(nsn, metadata) != UNKNOWN``."""
        general = self._desc(nsn, metadata.general_desc)
        types = [self._desc(nsn, getattr(metadata, name, None)) for name in TYPE_DESCS]
        if general is None or None in types:
            return None
        return f"({general} AND ({' OR '.join(types)}))"

    def _claimed(self, nsn: str, code: int) -> str | None:
        """SQL: is_valid_number holds for national number ``nsn`` with calling code ``code``.

        phonenumbers reads the number in the first region of the calling code that claims
        it (by leading digits, or by being valid there); only the first region is proved.
        """
        import phonenumbers

        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code) or ()
        first = regions[0] if regions else None
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(first, None) if first else None
        if metadata is None:
            return None  # non-geographic codes (+800, ...) and unknown ones
        valid = self._valid_for(nsn, metadata)
        if valid is None:
            return None
        if metadata.leading_digits is None:
            return valid
        leading = self._param(f"^(?:{metadata.leading_digits})")
        return None if leading is None else f"({valid} AND regexp_matches({nsn}, {leading}))"

    def _national(self, digits: str, metadata, code: int) -> str | None:
        """SQL: the digits of a national number, read with ``metadata``, make a valid number.

        Follows the national-prefix stripping of ``phonenumbers.parse``: when the prefix
        matches, the stripped number is proved only when phonenumbers certainly keeps it
        stripped (it matches the general pattern, has a possible, not local-only length).
        """
        plain = self._claimed(digits, code)
        prefix = metadata.national_prefix_for_parsing
        if plain is None or not prefix:
            return plain
        starts = self._param(f"^(?:{prefix})")
        if starts is None:
            return None
        if metadata.national_prefix_transform_rule:
            stripped_ok = "FALSE"
        else:
            rest = f"substr({digits}, length(regexp_extract({digits}, {starts})) + 1)"
            general = metadata.general_desc
            lengths = tuple(general.possible_length or ())
            local_only = tuple(general.possible_length_local_only or ())
            pattern = self._param(general.national_number_pattern) if general.national_number_pattern else None
            claimed = self._claimed(rest, code)
            if pattern is None or claimed is None or not lengths:
                stripped_ok = "FALSE"
            else:
                stripped_ok = (f"(regexp_full_match({rest}, {pattern}) "
                               f"AND length({rest}) IN ({', '.join(str(n) for n in lengths)}) "
                               + (f"AND length({rest}) NOT IN ({', '.join(str(n) for n in local_only)}) "
                                  if local_only else "")
                               + f"AND {claimed})")
        return f"(CASE WHEN regexp_matches({digits}, {starts}) THEN {stripped_ok} ELSE {plain} END)"

    def international(self, digits: str, prefixes) -> str:
        """SQL: ``+`` followed by ``digits`` is a valid number (for the calling codes among ``prefixes``).

        ``prefixes`` are the first digits (up to three) of the tenant's international
        numbers; each is read as phonenumbers does (the shortest known calling code).
        """
        import phonenumbers

        known = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        codes = set()
        for prefix in prefixes:
            for n in range(1, min(MAX_CODE_DIGITS, len(prefix)) + 1):
                if prefix[0] != "0" and int(prefix[:n]) in known:
                    codes.add(int(prefix[:n]))
                    break
        branches = []
        for code in sorted(codes, key=lambda c: (len(str(c)), c)):  # the shortest code first, as phonenumbers reads
            first = known[code][0]
            metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, first)
            width = len(str(code))
            proof = self._national(f"substr({digits}, {width + 1})", metadata, code) if metadata else None
            if proof is not None:
                branches.append(f"WHEN starts_with({digits}, '{code}') THEN {proof}")
        return f"(CASE {' '.join(branches)} ELSE FALSE END)" if branches else "FALSE"

    def national(self, digits: str, region_column: str, regions) -> str:
        """SQL: ``digits`` (no plus) make a valid number read in the row's region."""
        import phonenumbers

        branches = []
        for region in sorted(set(r for r in regions if r)):
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
            if metadata is None:
                continue
            code = metadata.country_code
            idd = metadata.international_prefix
            guard = f"NOT starts_with({digits}, '{code}')"
            if idd:
                name = self._param(f"^(?:{idd})")
                if name is None:
                    continue
                guard += f" AND NOT regexp_matches({digits}, {name})"
            proof = self._national(digits, metadata, code)
            if proof is not None:
                branches.append(f"WHEN '{region}' THEN ({guard} AND {proof})")
        return f"(CASE {region_column} {' '.join(branches)} ELSE FALSE END)" if branches else "FALSE"

    def proof(self, phone: str, digits: str, region_column: str, regions, prefixes) -> str:
        """SQL: ``phone``, read in the region in ``region_column``, is certainly valid.

        ``digits`` names a column holding ``phone``'s ASCII digits
        (``regexp_replace(phone, '[^0-9]', '', 'g')``).
        """
        self.params["phone_shape"] = PHONE_SHAPE  # ours, not the metadata's
        return (f"coalesce(regexp_full_match({phone}, $phone_shape) AND length({digits}) >= 3 AND "
                f"CASE WHEN starts_with({phone}, '+') THEN {self.international(digits, prefixes)} "
                f"ELSE {self.national(digits, region_column, regions)} END, FALSE)")
