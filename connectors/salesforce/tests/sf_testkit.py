"""Test kit for the Salesforce connector: hand-built tenants, a runner, round-trip comparison."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

from crm_audit_core.connector import ExtractContext
from crm_audit_core.extract import MemorySink

from crm_audit_salesforce import mapping as m
from crm_audit_salesforce.connector import SalesforceConnector

UTC = timezone.utc
AS_OF = datetime(2026, 12, 31, tzinfo=UTC)

# Options that keep fault tests fast.
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "bulk_poll_seconds": 0, "timeout": 5}


def make_tenant(contacts: int = 30, custom_contact_fields: int = 2, seed: int = 7) -> dict:
    """A canonical tenant (dict of table -> rows) with the generator's conventions:
    decimal ids unique across the tenant, UTC datetimes, custom-field columns declared in
    ``fields``."""
    rng = random.Random(seed)
    ids = iter(range(1000, 10_000_000))

    def nid() -> str:
        return str(next(ids))

    def when(days_back: int) -> datetime:
        return (AS_OF - timedelta(days=days_back, seconds=rng.randint(0, 86_000))).replace(microsecond=0)

    roles = ["sales", "sales", "manager", "integration", "admin"]
    users = []
    for i in range(8):
        users.append({"id": nid(), "name": f"User {i}", "email": f"user{i}@example.com", "role": roles[i % 5],
                      "is_active": i != 6, "is_admin": i in (0, 4), "last_login_at": when(i * 7) if i != 5 else None,
                      "created_at": when(900), "mfa_enabled": i % 2 == 0})
    logins = [{"id": nid(), "user_id": users[i % 8]["id"], "at": when(i), "ip": f"10.0.0.{i % 6}",
               "status": "success" if i % 4 else "failure", "application": "Browser"} for i in range(25)]
    sources = ["ui", "import", "form", "api", "integration", None]
    companies = []
    for i in range(max(3, contacts // 5)):
        companies.append({"id": nid(), "name": f"Company {i}", "domain": f"company{i}.example",
                          "industry": ["Retail", "Banking", None][i % 3], "phone": f"+62 21 555 {i:04d}",
                          "street": f"Jalan {i}", "city": "Jakarta", "state": None, "postal_code": "10110",
                          "country": "Indonesia", "owner_id": users[i % 8]["id"], "source": sources[i % 6],
                          "source_detail": "Zapier" if sources[i % 6] == "integration" else None,
                          "created_at": when(800 - i), "updated_at": when(10 + i), "cf_tier": ["gold", None][i % 2]})
    people = []
    stages_cycle = ["lead", "customer", "opportunity", None, "lead"]
    for i in range(contacts):
        stage = stages_cycle[i % 5]
        company = companies[i % len(companies)]
        row = {"id": nid(), "first_name": f"Ji-woo{i}", "last_name": f"Kim{i}",
               "email": f"p{i}@example.com" if i % 7 else None, "phone": f"+82 2 {i:04d}" if i % 3 else None,
               "title": "Manager" if i % 2 else None,
               "company_id": None if stage == "lead" else company["id"],
               "company_name": company["name"], "lifecycle_stage": stage,
               "lead_status": ["New", "Working", None][i % 3], "segments": [["vip"], [], ["vip", "apac"]][i % 3],
               "owner_id": users[i % 8]["id"], "street": None, "city": "Seoul", "state": None,
               "postal_code": None, "country": "South Korea", "source": sources[i % 6],
               "source_detail": "Zapier" if sources[i % 6] == "integration" else None,
               "email_bounced": i % 11 == 0, "created_at": when(700 - i), "updated_at": when(5 + i),
               "last_activity_at": when(3 + i) if i % 4 else None}
        for k in range(custom_contact_fields):
            row[f"cf_field_{k}"] = f"v{k}-{i}" if (i + k) % 3 else None
        people.append(row)
    stages = [{"id": nid(), "pipeline": "Sales", "name": n, "position": p, "is_closed": c, "is_won": w}
              for p, (n, c, w) in enumerate([("Prospecting", False, False), ("Negotiation", False, False),
                                             ("Closed Won", True, True), ("Closed Lost", True, False),
                                             ("Unused Stage", False, False)])]
    contacts_only = [p for p in people if p["lifecycle_stage"] != "lead"]
    deals = []
    for i in range(max(4, contacts // 3)):
        st = stages[i % 4]
        deals.append({"id": nid(), "name": f"Deal {i}", "amount": float(1000 * (i + 1)) if i % 5 else None,
                      "currency": "USD", "pipeline": "Sales", "stage": st["id"], "is_closed": st["is_closed"],
                      "is_won": st["is_won"], "close_date": when(i * 10).replace(hour=0, minute=0, second=0),
                      "lost_reason": "Price" if st["name"] == "Closed Lost" and i % 2 else None,
                      "owner_id": users[i % 8]["id"] if i % 6 else None,
                      "company_id": companies[i % len(companies)]["id"],
                      "contact_id": contacts_only[i % len(contacts_only)]["id"], "source": sources[i % 6],
                      "created_at": when(400 - i), "updated_at": when(2 + i), "last_activity_at": when(1 + i),
                      "cf_deal_score": float(i)})
    activities = []
    types = ["call", "email", "meeting", "sms", "note", "task"]
    for i in range(max(6, contacts)):
        kind = types[i % 6]
        done = i % 2 == 0
        due = when(i - 15)
        activities.append({"id": nid(), "type": kind, "subject": f"{kind} {i}", "owner_id": users[i % 8]["id"],
                           "contact_id": contacts_only[i % len(contacts_only)]["id"],
                           "company_id": companies[i % len(companies)]["id"],
                           "deal_id": deals[i % len(deals)]["id"] if i % 3 else None,
                           "due_at": due if i % 5 else None, "is_done": done,
                           "completed_at": (due + timedelta(hours=1)) if done and due + timedelta(hours=1) < AS_OF else None,
                           "created_at": when(60 + i)})
    campaigns = [{"id": nid(), "name": f"Campaign {i}", "type": "Email", "sent": 100 * i, "delivered": None,
                  "opened": None, "responses": 7 * i, "started_at": when(30 * i).replace(hour=0, minute=0, second=0),
                  "source": None} for i in range(3)]
    fields = [{"object": "contacts", "name": f"cf_field_{k}", "label": f"Field {k}", "type": "str",
               "is_custom": True, "created_at": None} for k in range(custom_contact_fields)]
    fields += [{"object": "companies", "name": "cf_tier", "label": "Tier", "type": "str", "is_custom": True,
                "created_at": None},
               {"object": "deals", "name": "cf_deal_score", "label": "Score", "type": "float", "is_custom": True,
                "created_at": None}]
    platform = [{"vendor": "salesforce", "edition": "Enterprise Edition", "api_version_used": "58.0",
                 "api_version_latest": "62.0", "api_versions_deprecated": []}]
    return {"users": users, "login_events": logins, "companies": companies, "contacts": people, "stages": stages,
            "deals": deals, "activities": activities, "campaigns": campaigns, "fields": fields,
            "platform": platform, "as_of": AS_OF}


def stage_calls(org) -> int:
    """One UI API call per record type whose stages are read (active ones, inactive ones
    in use, the master one when there is no active one or an opportunity has none), and
    one COUNT() per question asked: opportunities without a record type (when some are
    active), and each inactive record type's."""
    types = [t for t in org.records.get("RecordType", []) if t.get("SobjectType") == "Opportunity"]
    active = [t for t in types if t["IsActive"]]
    inactive = [t for t in types if not t["IsActive"]]
    opportunities = org.records.get("Opportunity", [])
    used = {o.get("RecordTypeId") for o in opportunities}
    master = not active or None in used
    counts = (1 if active else 0) + len(inactive)
    return len(active) + sum(1 for t in inactive if t["Id"] in used) + (1 if master else 0) + counts


def run(handle, sink=None, **options):
    """Run the connector against a sandbox; returns (connector, sink)."""
    sink = sink or MemorySink(tenant="t")
    connector = SalesforceConnector({**handle.options, **FAST, **options}, ExtractContext(tenant="t", as_of=AS_OF))
    connector.extract(sink)
    return connector, sink



# ---- round trip (ids compared through the sandbox's mapping; see docs/connectors/salesforce.md)

REFERENCE_COLUMNS = {"owner_id", "company_id", "contact_id", "deal_id", "user_id"}
TIMESTAMP_COLUMNS = {"last_login_at", "created_at", "updated_at", "at", "close_date", "last_activity_at", "due_at",
                     "completed_at", "started_at"}


def _norm(value, date_only: bool = False):
    if value == "":
        return None  # Salesforce stores a blank text as null
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, datetime) or (isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}(T|$)", value)):
        when = m.utc_datetime(value)
        if when is None:
            return None
        return when.strftime("%Y-%m-%d") if date_only else when.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, (list, tuple)):
        return sorted(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _rows(tenant, table: str) -> list[dict]:
    if isinstance(tenant, dict):
        return list(tenant.get(table) or [])
    return list(tenant.rows(table)) if table in tenant.tables else []


def expected_rows(tenant: dict, table: str, ids: dict[str, str], stage_keys: dict[str, str]) -> dict[str, dict]:
    """Expected connector rows. A stage is a row per pipeline (``stage_keys``: canonical
    stage id -> the id the connector gives it, from the sandbox); a deal names the stage of
    its pipeline (stages of the same pipeline and name are one)."""
    out = {}
    for row in _rows(tenant, table):
        sf_id = stage_keys[str(row["id"])] if table == "stages" else ids[str(row["id"])]
        exp = {}
        for col in m.MAPPED_COLUMNS[table]:
            if col != "id" and col not in row:
                continue  # a column the tenant does not have is not compared (as in the acceptance suite)
            value = row.get(col)
            if col == "id":
                value = sf_id
            elif col in REFERENCE_COLUMNS and value is not None:
                value = ids.get(str(value))
            date_only = col in m.DATE_ONLY.get(table, set())
            if table == "activities" and col == "due_at" and sf_id.startswith(m.KEY_PREFIXES["Task"]):
                date_only = True
            if table == "deals" and col == "stage" and value is not None:
                value = stage_keys.get(str(value), value)
            if table == "contacts" and col == "segments":
                value = value or []
            exp[col] = _norm(value, date_only)
        out[sf_id] = exp
    return out


def actual_rows(rows: list[dict], table: str, ids_by_sf: dict[str, str]) -> dict[str, dict]:
    out = {}
    for row in rows:
        got = {}
        for col in m.MAPPED_COLUMNS[table]:
            date_only = col in m.DATE_ONLY.get(table, set())
            if table == "activities" and col == "due_at" and row["id"].startswith(m.KEY_PREFIXES["Task"]):
                date_only = True
            got[col] = _norm(row.get(col), date_only)
        out[row["id"]] = got
    return out


def differences(tenant: dict, sink_rows: dict, table: str, ids: dict[str, str],
                stage_keys: dict[str, str]) -> list[str]:
    expected = expected_rows(tenant, table, ids, stage_keys)
    actual = actual_rows(sink_rows.get(table, []), table, {v: k for k, v in ids.items()})
    problems = []
    if set(expected) != set(actual):
        problems.append(f"{table}: ids differ: missing {sorted(set(expected) - set(actual))[:5]}, "
                        f"extra {sorted(set(actual) - set(expected))[:5]}")
    for key in sorted(set(expected) & set(actual)):
        for col, value in expected[key].items():
            if actual[key].get(col) != value:
                problems.append(f"{table} {key} ({m.from_salesforce_id(key)}) {col}: "
                                f"expected {value!r}, got {actual[key].get(col)!r}")
    return problems


def _loose(value):
    """Custom values: a number-typed field may hold '1' in the tenant and 1.0 in Salesforce."""
    value = _norm(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def custom_differences(tenant: dict, sink_rows: dict, table: str, ids: dict[str, str]) -> list[str]:
    declared = [f["name"] for f in _rows(tenant, "fields") if f.get("object") == table and f.get("is_custom")]
    problems = []
    got = {r["id"]: r.get("custom") or {} for r in sink_rows.get(table, [])}
    for row in _rows(tenant, table):
        sf_id = ids[str(row["id"])]
        for name in declared:
            want = row.get(name)
            have = got.get(sf_id, {}).get(m.custom_field_api_name(name))
            if _loose(want) != _loose(have):
                problems.append(f"{table} {sf_id} {name}: expected {want!r}, got {have!r}")
    return problems
