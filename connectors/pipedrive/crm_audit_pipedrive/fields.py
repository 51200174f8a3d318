"""Pipedrive's field definitions (v2 ``personFields`` / ``organizationFields`` /
``dealFields`` / ``activityFields``): the catalog that decodes a record's ``custom_fields``
(keyed by a 40-character hash, options by id) into canonical columns, the canonical
``fields`` rows, and the inverse (a canonical ``fields`` row -> a v2 definition) for the
sandbox."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from .values import clean, v_date

# Canonical table -> Pipedrive entity (fields endpoints are "<entity>Fields").
FIELD_ENTITIES = {
    "contacts": "person",
    "companies": "organization",
    "deals": "deal",
    "activities": "activity",
}

# Organization fields whose *name* says they hold a canonical column. Pipedrive has no
# built-in website/industry/phone on organizations; accounts add them as fields (newer
# accounts get "Website" and "Industry" preset), so they arrive keyed by hash.
ORG_PROMOTED_FIELDS = {
    "website": "domain",
    "domain": "domain",
    "industry": "industry",
    "phone": "phone",
}


def slug(label: str) -> str:
    """The canonical name of a custom field from its Pipedrive label ("Customer tier" ->
    "customer_tier"): Pipedrive has no API name for custom fields, only the hash."""
    # A parenthetical is an explanation, not part of the name: "Tax ID (NPWP)" -> tax_id.
    text = re.sub(r"\([^)]*\)", " ", str(label))
    text = re.sub(r"[^0-9a-zA-Z\u00C0-\uFFFF]+", "_", text.strip().lower())
    return text.strip("_") or "field"


def field_hash(object_name: str, name: str) -> str:
    """A stable 40-character hash key, as Pipedrive gives custom fields (sandbox side)."""
    return hashlib.sha1(f"{object_name}:{name}".encode()).hexdigest()


# Pipedrive field_type -> the field-type vocabulary of the canonical ``fields`` table
# (string, number, boolean, datetime, enumeration, json).
FIELD_TYPES = {
    "varchar": "string", "varchar_auto": "string", "text": "string", "phone": "string",
    "address": "string", "time": "string", "timerange": "string",
    "user": "string", "org": "string", "people": "string",
    "double": "number", "monetary": "number", "int": "number",
    "date": "datetime", "daterange": "datetime",
    "enum": "enumeration", "set": "enumeration", "visible_to": "enumeration", "status": "enumeration",
    "stage": "enumeration", "boolean": "boolean",
}
# canonical field type (or logical column type) -> Pipedrive field_type (sandbox side).
FIELD_TYPES_BACK = {
    "string": "varchar", "number": "double", "datetime": "date", "enumeration": "enum",
    "boolean": "enum", "json": "text",
    "str": "varchar", "float": "double", "int": "double", "timestamp": "date", "list": "set", "bool": "enum",
}
ENUM_TYPES = ("enumeration", "boolean", "list", "bool")


# The person field that holds a lifecycle stage (Pipedrive has none built in): its name,
# compared case-insensitively; the connector's option ``lifecycle_field`` names another.
LIFECYCLE_FIELD = "Lifecycle stage"


class FieldCatalog:
    """The field definitions of one entity: decodes ``custom_fields`` hashes and options.
    ``promote``: custom field name (lower case) -> the canonical column it fills (by
    default the organization fields of :data:`ORG_PROMOTED_FIELDS`)."""

    def __init__(self, table: str, fields: list[dict], promote: dict[str, str] | None = None):
        self.table = table
        self.fields = fields
        self.by_code = {f.get("field_code"): f for f in fields}
        self.labels_by_option: dict[str, dict[str, str]] = {}
        for f in fields:
            opts = f.get("options") or []
            self.labels_by_option[f.get("field_code")] = {str(o.get("id")): o.get("label") for o in opts if isinstance(o, dict)}
        self.promoted: dict[str, str] = {}
        if promote is None:
            promote = ORG_PROMOTED_FIELDS if table == "companies" else {}
        for f in fields:
            if f.get("is_custom_field"):
                column = promote.get(str(f.get("field_name", "")).strip().lower())
                if column and column not in self.promoted.values():
                    self.promoted[f["field_code"]] = column

    def rows(self) -> list[dict]:
        out = []
        for f in self.fields:
            custom = bool(f.get("is_custom_field"))
            label = f.get("field_name")
            out.append(
                {
                    "object": self.table,
                    "name": slug(label) if custom else f.get("field_code"),
                    "label": label,
                    "type": FIELD_TYPES.get(f.get("field_type"), "string"),
                    "is_custom": custom,
                    "raw": f,
                }
            )
        return out

    def option_label(self, code: str, value: Any) -> Any:
        labels = self.labels_by_option.get(code) or {}
        if not labels or value is None:
            return value
        if isinstance(value, dict):  # include_option_labels form {id, label}
            return value.get("label")
        return labels.get(str(value), value)

    def decode(self, custom_fields: Any) -> tuple[dict, dict]:
        """-> (canonical columns promoted from custom fields, {custom name: value})."""
        promoted: dict = {}
        custom: dict = {}
        if not isinstance(custom_fields, dict):
            return promoted, custom
        for code, value in custom_fields.items():
            field = self.by_code.get(code)
            if field is None:
                if value is not None:
                    custom[code] = value  # a field we were not told about: keep it by hash
                continue
            ftype = field.get("field_type")
            if ftype == "set":
                if isinstance(value, str):
                    value = [v for v in value.split(",") if v]
                value = [self.option_label(code, v) for v in (value or [])] or None
            elif ftype == "enum":
                value = self.option_label(code, value)
            elif ftype in ("monetary",) and isinstance(value, dict):
                value = value.get("value")
            elif ftype == "address" and isinstance(value, dict):
                value = value.get("value") or value.get("formatted_address")
            if code in self.promoted:
                promoted[self.promoted[code]] = value
            elif value is not None and value != "":
                custom[slug(field.get("field_name"))] = value
        return promoted, custom


def field_to_v2(object_table: str, row: dict, options: list[dict] | None = None, multi: bool = False) -> dict:
    """A canonical ``fields`` row -> a v2 field definition (sandbox side)."""
    custom = bool(row.get("is_custom"))
    ftype = FIELD_TYPES_BACK.get(row.get("type") or "string", "varchar")
    if options:
        ftype = "set" if row.get("type") == "list" or multi else "enum"
    return {
        "field_name": row.get("label") or row.get("name"),
        "field_code": field_hash(object_table, row["name"]) if custom else row["name"],
        "field_type": ftype,
        "is_custom_field": custom,
        "is_optional_response_field": False,
        "options": options,
        "subfields": None,
    }


def encode_custom(table: str, row: dict, fields: list[dict], option_ids: dict[str, dict[str, int]]) -> dict:
    """A canonical row's custom columns -> a v2 ``custom_fields`` object (sandbox side), the
    inverse of :meth:`FieldCatalog.decode`: keyed by hash, option labels as option ids
    (``option_ids``: field name -> label -> id), dates as ``YYYY-MM-DD``."""
    out = {}
    for f in fields:
        name = f["name"]
        value = clean(row.get(name))
        if value is None and isinstance(row.get("custom"), dict):
            value = row["custom"].get(name)
        if name in option_ids and value is not None:
            if isinstance(value, (list, tuple)):
                value = [option_ids[name][str(v)] for v in value if clean(v) is not None] or None
            else:
                value = option_ids[name].get(str(value))
        elif isinstance(value, datetime):
            value = v_date(value)
        out[field_hash(table, name)] = value
    return out
