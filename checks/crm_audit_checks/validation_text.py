"""Why an email address or a phone number is not valid, as templates a report can translate.

The validating libraries (email-validator, phonenumbers) explain in English. A fix-list
row reads "'a..b@example.com': An email address cannot have two periods in a row.", in
the report's language: each explanation the libraries give is matched here to a template
with the same English text (so English reports read exactly as the library wrote), its
variable parts (characters, counts) as named values. An explanation not listed (a new
library version) is shown in English, as the library wrote it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from crm_audit_core import Message

from .i18n import _, ngettext


@lru_cache(maxsize=1)
def _email_fixed() -> dict[str, Message]:
    """email-validator's explanations without variable parts, by their English text."""
    messages = [
        _("An email address must have an @-sign."),
        _("There must be something before the @-sign."),
        _("There must be something after the @-sign."),
        _("An email address cannot have two periods in a row."),
        _("An email address cannot start with a period."),
        _("An email address cannot have a period immediately before the @-sign."),
        _("An email address cannot have a period immediately after the @-sign."),
        _("An email address cannot have a hyphen immediately after the @-sign."),
        _("An email address cannot end with a period."),
        _("An email address cannot end with a hyphen."),
        _("An email address cannot have a period and a hyphen next to each other."),
        _("An email address cannot have two letters followed by two dashes immediately after the @-sign or after "
          "a period, except Punycode."),
        _("The part after the @-sign is not valid. It should have a period."),
        _("The part after the @-sign is not valid. It is not within a valid top-level domain."),
        _("The part after the @-sign is a special-use or reserved name that cannot be used with email."),
        _("The email address contains invalid characters before the @-sign."),
        _("Internationalized characters before the @-sign are not supported."),
        _("The email address contains an invalid character."),
        _("The email address contains invalid characters after the @-sign after IDNA encoding."),
        _("There can't be anything after the email address."),
        _("The email address has the \"full-width\" at-sign (@) character instead of a regular at-sign."),
        _("The email address has the \"small commercial at\" character instead of a regular at-sign."),
        _("An open angle bracket at the start of the email address has to be followed by a close angle bracket at "
          "the end."),
        _("A display name and angle brackets around the email address are not permitted here."),
        _("Quoting the part before the @-sign is not allowed here."),
        _("A bracketed IP address after the @-sign is not allowed here."),
        _("The email address is not valid ASCII."),
        _("The part after the @-sign in brackets is not an IPv4 address and has no address literal tag."),
        _("The part after the @-sign contains an invalid address literal tag in brackets."),
    ]
    return {str(m): m for m in messages}


# (pattern over the English explanation, the template filled with the pattern's groups)
_EMAIL_PATTERNS = [
    (re.compile(r"The email address contains invalid characters before the @-sign: (?P<chars>.+)\.", re.S),
     lambda g: _("The email address contains invalid characters before the @-sign: {chars}.", **g)),
    (re.compile(r"The part after the @-sign contains invalid characters: (?P<chars>.+)\.", re.S),
     lambda g: _("The part after the @-sign contains invalid characters: {chars}.", **g)),
    (re.compile(r"The part after the @-sign contains invalid characters after Unicode normalization: (?P<chars>.+)\.",
                re.S),
     lambda g: _("The part after the @-sign contains invalid characters after Unicode normalization: {chars}.", **g)),
    (re.compile(r"The email address contains unsafe characters: (?P<chars>.+)\.", re.S),
     lambda g: _("The email address contains unsafe characters: {chars}.", **g)),
    (re.compile(r"Internationalized characters before the @-sign are not supported: (?P<chars>.+)\.", re.S),
     lambda g: _("Internationalized characters before the @-sign are not supported: {chars}.", **g)),
    (re.compile(r"The email address contains invalid characters in quotes before the @-sign: (?P<chars>.+)\.", re.S),
     lambda g: _("The email address contains invalid characters in quotes before the @-sign: {chars}.", **g)),
    (re.compile(r"The display name contains invalid characters when not quoted: (?P<chars>.+)\.", re.S),
     lambda g: _("The display name contains invalid characters when not quoted: {chars}.", **g)),
    (re.compile(r"The email address is too long before the @-sign \((?P<n>\d+) characters? too many\)\."),
     lambda g: ngettext("The email address is too long before the @-sign ({n} character too many).",
                        "The email address is too long before the @-sign ({n} characters too many).",
                        int(g["n"]))),
    (re.compile(r"The email address is too long after the @-sign \((?P<n>\d+) characters? too many\)\."),
     lambda g: ngettext("The email address is too long after the @-sign ({n} character too many).",
                        "The email address is too long after the @-sign ({n} characters too many).",
                        int(g["n"]))),
    (re.compile(r"The email address is too long after the @-sign \((?P<n>\d+) bytes? too many after IDNA "
                r"encoding\)\."),
     lambda g: ngettext("The email address is too long after the @-sign ({n} byte too many after IDNA encoding).",
                        "The email address is too long after the @-sign ({n} bytes too many after IDNA encoding).",
                        int(g["n"]))),
    (re.compile(r"The email address is too long \((?P<n>\d+) characters? too many\)\."),
     lambda g: ngettext("The email address is too long ({n} character too many).",
                        "The email address is too long ({n} characters too many).", int(g["n"]))),
    (re.compile(r"After the @-sign, periods cannot be separated by so many characters \((?P<n>\d+) characters? too "
                r"many\)\."),
     lambda g: ngettext("After the @-sign, periods cannot be separated by so many characters ({n} character too "
                        "many).",
                        "After the @-sign, periods cannot be separated by so many characters ({n} characters too "
                        "many).", int(g["n"]))),
    (re.compile(r"The part after the @-sign is not valid IDNA \((?P<error>.+)\)\.", re.S),
     lambda g: _("The part after the @-sign is not valid IDNA ({error}).", **g)),
    (re.compile(r"The part after the @-sign contains invalid characters \((?P<error>.+)\)\.", re.S),
     lambda g: _("The part after the @-sign contains invalid characters ({error}).", **g)),
    (re.compile(r"The part after the @-sign is invalid \((?P<error>.+)\)\.", re.S),
     lambda g: _("The part after the @-sign is invalid ({error}).", **g)),
]


@lru_cache(maxsize=4096)
def email_problem_text(problem: str) -> Message | str:
    """email-validator's explanation ``problem`` as a template (as it is when unknown)."""
    fixed = _email_fixed().get(problem)
    if fixed is not None:
        return fixed
    for pattern, template in _EMAIL_PATTERNS:
        m = pattern.fullmatch(problem)
        if m:
            return template(m.groupdict())
    return problem


@lru_cache(maxsize=1)
def _phone_unreadable() -> dict[str, Message]:
    """phonenumbers' reasons for not reading a number at all, by their English text."""
    messages = [
        _("cannot be read as a phone number (The string supplied did not seem to be a phone number.)"),
        _("cannot be read as a phone number (The string supplied is too short to be a phone number.)"),
        _("cannot be read as a phone number (The string supplied is too long to be a phone number.)"),
        _("cannot be read as a phone number (The string supplied was too long to parse.)"),
        _("cannot be read as a phone number (Could not interpret numbers after plus-sign.)"),
        _("cannot be read as a phone number (Country calling code supplied was not recognised.)"),
        _("cannot be read as a phone number (Missing or invalid default region.)"),
        _("cannot be read as a phone number (Phone number had an IDD, but after this was not long enough to be a "
          "viable phone number.)"),
        _("cannot be read as a phone number (The phone-context value is invalid)"),
    ]
    return {str(m): m for m in messages}


def phone_unreadable_text(reason: str) -> Message:
    """Why phonenumbers could not read a number (``reason``: its exception's English text)."""
    known = _phone_unreadable().get(f"cannot be read as a phone number ({reason})")
    return known if known is not None else _("cannot be read as a phone number ({reason})", reason=reason)


def no_region_text() -> Message:
    return _("no country code and no country to read it in (set the contact's country or default_region)")


def invalid_number_text(region: str | None) -> Message:
    """A number phonenumbers read but judges invalid (for ``region`` when known)."""
    if region:
        return _("not a valid number for {region}", region=region)
    return _("not a valid number")
