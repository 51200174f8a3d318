"""Salesforce record ids <-> canonical ids.

A canonical id read from Salesforce *is* the 18-character Salesforce id. The sandbox
turns the generator's decimal ids into Salesforce-style ids with :func:`to_salesforce_id`
(key prefix + base-62 number + case-safe checksum) and :func:`from_salesforce_id` gives
the decimal id back, so round trips compare exactly. :func:`sobject_of` names the object
of an id by its key prefix.
"""

from __future__ import annotations

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Task": "00T",
    "Event": "00U",
    "User": "005",
    "Campaign": "701",
    "LoginHistory": "0Ya",
    "OpportunityStage": "01J",
    "Profile": "00e",
    "PermissionSet": "0PS",
    "PermissionSetAssignment": "0Pa",
    "Organization": "00D",
    "RecordType": "012",
    "ConnectedApplication": "0H4",
    "TwoFactorMethodsInfo": "0tM",
    "OauthToken": "0CQ",
    "CampaignMember": "00v",
    "UserLicense": "100",
    "UserLogin": "060",
    "PermissionSetGroup": "0PG",
    "SetupAuditTrail": "0Ym",
    "InstalledSubscriberPackage": "0A3",
    "SubscriberPackage": "033",
    "SubscriberPackageVersion": "04t",
    "AppMenuItem": "0DS",
    "UserRole": "00E",
    "ObjectPermissions": "110",
}
PREFIX_OBJECTS = {v: k for k, v in KEY_PREFIXES.items()}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitive-safe."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_CHECKSUM_ALPHABET[bits])
    return "".join(out)


def to_salesforce_id(canonical_id: str | int, sobject: str) -> str:
    """Decimal canonical id -> 18-character Salesforce id with ``sobject``'s key prefix."""
    text = str(canonical_id)
    if not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise ValueError(f"canonical id {text!r} is not a decimal id without leading zeros")
    number = int(text)
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    body = "".join(reversed(digits)) or "0"
    if len(body) > 12:
        raise ValueError(f"canonical id {text} is too large for a Salesforce id")
    id15 = KEY_PREFIXES[sobject] + body.rjust(12, "0")
    return id15 + _checksum(id15)


def from_salesforce_id(salesforce_id: str) -> str:
    """18- (or 15-) character Salesforce id made by :func:`to_salesforce_id` -> decimal id."""
    number = 0
    for ch in salesforce_id[3:15]:
        number = number * 62 + _BASE62.index(ch)
    return str(number)


def sobject_of(salesforce_id: str | None) -> str | None:
    """``'006...'`` -> ``'Opportunity'`` (None for unknown prefixes)."""
    if not salesforce_id:
        return None
    return PREFIX_OBJECTS.get(salesforce_id[:3])
