"""The sandbox's SOQL engine: parses the SOQL the connector sends (SELECT fields and
parent fields up to five levels FROM object, WHERE of ANDed or ORed comparisons, ORDER BY, LIMIT,
``COUNT()``), evaluates it over the org's records, and shapes records as REST JSON and
Bulk CSV cells. Anything else is Salesforce's ``MALFORMED_QUERY``; unknown fields
``INVALID_FIELD``; unknown objects ``INVALID_TYPE``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import mapping as m
from .org import Org

MAX_SOQL_LENGTH = 100_000


class SoqlError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>[\w.]+)(?:\s+(?P<dir>ASC|DESC))?(?:\s+NULLS\s+(?:FIRST|LAST))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(
    r"\s*(?P<field>[\w.]+)\s*(?P<op>=|!=|<>|<=|>=|<|>|\s+NOT\s+IN\s+|\s+IN\s+)\s*"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\([^)]*\)|[^\s)]+)\s*",
    re.IGNORECASE,
)
_DATETIME_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_DATE_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Soql:
    fields: list[str]
    object: str
    conditions: list[tuple[str, str, Any]]
    joiner: str
    order: tuple[str, bool] | None
    limit: int | None
    count: bool = False


def _literal(text: str) -> Any:
    t = text.strip()
    if t.startswith("("):
        return [_literal(p) for p in t[1:-1].split(",") if p.strip()]
    if t.startswith("'"):
        return t[1:-1].replace("\\'", "'")
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if _DATETIME_LITERAL.match(t) or _DATE_LITERAL.match(t):
        return m.utc_datetime(t)
    try:
        return float(t)
    except ValueError:
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{t}'") from None


def parse_soql(text: str, org: Org) -> Soql:
    if len(text) > MAX_SOQL_LENGTH:
        raise SoqlError("MALFORMED_QUERY", f"Query string is longer than {MAX_SOQL_LENGTH} characters")
    match = _SOQL.match(text)
    if not match:
        raise SoqlError("MALFORMED_QUERY", "unexpected token: the sandbox understands "
                        "SELECT fields FROM object [WHERE ...] [ORDER BY field] [LIMIT n]")
    obj = match["object"]
    if obj not in org.fields:
        raise SoqlError("INVALID_TYPE", f"sObject type '{obj}' is not supported. If you are attempting to use a "
                        "custom object, be sure to append the '__c' after the entity name.")
    raw_fields = [f.strip() for f in match["fields"].split(",")]
    count = len(raw_fields) == 1 and raw_fields[0].lower() == "count()"
    fields = [] if count else raw_fields
    for f in fields + ([match["order"]] if match["order"] else []):
        _check_field(org, obj, f)
    conditions: list[tuple[str, str, Any]] = []
    joiner = "AND"
    where = match["where"]
    if where:
        pos, joiners = 0, set()
        while True:
            cond = _COND.match(where, pos)
            if not cond:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token in WHERE: '{where[pos:pos + 30]}'")
            _check_field(org, obj, cond["field"])
            conditions.append((cond["field"], cond["op"].strip().upper(), _literal(cond["value"])))
            pos = cond.end()
            if pos >= len(where):
                break
            j = re.match(r"(AND|OR)\s+", where[pos:], re.IGNORECASE)
            if not j:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token in WHERE: '{where[pos:pos + 30]}'")
            joiners.add(j[1].upper())
            pos += j.end()
        if len(joiners) > 1:
            raise SoqlError("MALFORMED_QUERY", "the sandbox does not mix AND and OR without parentheses")
        joiner = joiners.pop() if joiners else "AND"
    order = (match["order"], (match["dir"] or "ASC").upper() == "DESC") if match["order"] else None
    limit = int(match["limit"]) if match["limit"] else None
    return Soql(fields, obj, conditions, joiner, order, limit, count)


def _check_field(org: Org, obj: str, name: str) -> None:
    if "." in name:
        # parent fields up to five levels (``PermissionSet.Profile.Name``): the first
        # relationship must be a reference of ``obj``; the rest is checked by the parent
        rel, _, target = name.partition(".")
        ref_field = rel + "Id"
        if ref_field in org.fields[obj] and re.match(r"^\w+(\.\w+){0,4}$", target):
            return
    elif name in org.fields[obj]:
        return
    raise SoqlError("INVALID_FIELD", f"\nSELECT {name} FROM {obj}\n       ^\nERROR at Row:1:Column:8\n"
                    f"No such column '{name}' on entity '{obj}'. If you are attempting to use a custom field, be "
                    "sure to append the '__c' after the custom field name. Please reference your WSDL or the "
                    "describe call for the appropriate names.")


def field_value(org: Org, record: dict, name: str) -> Any:
    """A field, or a parent's field along a relationship path (``Profile.UserLicense.Name``)."""
    value: Any = record
    *path, last = name.split(".")
    for rel in path:
        value = org.by_id.get(value.get(rel + "Id") or "")
        if value is None:
            return None
    return value.get(last)


def _comparable(value: Any, like: Any) -> Any:
    if isinstance(like, datetime):
        return m.utc_datetime(value)
    if isinstance(like, float) and value is not None and not isinstance(value, bool):
        return float(value)
    return value


def _matches(org: Org, record: dict, q: Soql) -> bool:
    results = []
    for name, op, lit in q.conditions:
        value = field_value(org, record, name)
        if op in ("IN", "NOT IN"):
            hit = value in lit
            results.append(hit if op == "IN" else not hit)
            continue
        if lit is None or value is None:
            eq = (value is None) == (lit is None) and value == lit
            results.append(eq if op == "=" else (not eq if op in ("!=", "<>") else False))
            continue
        left = _comparable(value, lit)
        try:
            results.append({"=": left == lit, "!=": left != lit, "<>": left != lit, "<": left < lit,
                            ">": left > lit, "<=": left <= lit, ">=": left >= lit}[op])
        except TypeError:
            results.append(False)
    return all(results) if q.joiner == "AND" else any(results)


def run_soql(org: Org, q: Soql) -> list[dict]:
    rows = [r for r in org.records[q.object] if not q.conditions or _matches(org, r, q)]
    if q.order:
        name, desc = q.order
        rows.sort(key=lambda r: (field_value(org, r, name) is None, str(field_value(org, r, name) or "")), reverse=desc)
    if q.limit is not None:
        rows = rows[: q.limit]
    return rows


def rest_record(org: Org, record: dict, q: Soql, version: str) -> dict:
    out: dict[str, Any] = {"attributes": {"type": q.object, "url": f"/services/data/v{version}/sobjects/{q.object}/{record['Id']}"}}
    for name in q.fields:
        if "." in name:
            _nest(org, out, record, name.split("."), version)
        else:
            out[name] = record.get(name)
    return out


def _nest(org: Org, out: dict, record: dict, path: list[str], version: str) -> None:
    """A parent field as REST nests it: ``{"Profile": {"attributes": ..., "Name": ...}}``,
    one level a relationship, ``null`` where a relationship is empty."""
    rel, rest = path[0], path[1:]
    if not rest:
        out[rel] = record.get(rel)
        return
    if rel in out and out[rel] is None:
        return
    parent = org.by_id.get(record.get(rel + "Id") or "")
    if parent is None:
        out[rel] = None
        return
    ptype = m.sobject_of(parent["Id"]) or rel
    nested = out.get(rel) or {"attributes": {"type": ptype,
                                             "url": f"/services/data/v{version}/sobjects/{ptype}/{parent['Id']}"}}
    out[rel] = nested
    _nest(org, nested, parent, rest, version)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
        if re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$", text):
            text = text[:-5] + "Z"  # Bulk CSV datetimes end in Z
    return '"' + text.replace('"', '""') + '"'

