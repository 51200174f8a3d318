"""A small hand-built canonical tenant (same shape as crm_audit_core.sandbox.generate_tenant)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crm_audit_hubspot.sandbox import start_sandbox

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
ACTIVITY_TYPES = ("call", "email", "meeting", "note", "task", "sms")


def build_tenant(contacts: int = 230, companies: int = 40, deals: int = 60, activities: int = 120,
                 users: int = 5, campaigns: int = 3) -> dict[str, list[dict]]:
    ids = iter(range(1000, 10_000_000))
    nid = lambda: str(next(ids))  # noqa: E731
    t: dict[str, list[dict]] = {k: [] for k in ("users", "login_events", "companies", "contacts", "deals",
                                                 "stages", "activities", "campaigns", "fields", "platform")}
    for i in range(users):
        t["users"].append({"id": nid(), "name": f"User{i} Lastname{i}", "email": f"user{i}@example.com",
                           "role": "Sales" if i % 2 else "Admin", "is_active": i != users - 1,
                           "is_admin": i == 0, "created_at": T0 - timedelta(days=400 + i), "last_login_at": None})
    for j, u in enumerate(t["users"][:-1]):
        for k in range(3):
            at = T0 - timedelta(days=k, hours=j)
            ok = k != 2
            t["login_events"].append({"id": nid(), "user_id": u["id"], "at": at, "ip": f"10.0.0.{j}",
                                      "status": "success" if ok else "failure", "application": "Browser"})
            if ok and (u["last_login_at"] is None or at > u["last_login_at"]):
                u["last_login_at"] = at
    owner_ids = [u["id"] for u in t["users"]]
    t["fields"] += [
        {"object": "contacts", "name": "first_name", "label": "First name", "type": "str", "is_custom": False},
        {"object": "contacts", "name": "favourite_colour", "label": "Favourite colour", "type": "str",
         "is_custom": True, "created_at": T0 - timedelta(days=30)},
        {"object": "contacts", "name": "score_extra", "label": "Score", "type": "float", "is_custom": True,
         "created_at": T0 - timedelta(days=20)},
        {"object": "companies", "name": "tier", "label": "Tier", "type": "str", "is_custom": True,
         "created_at": T0 - timedelta(days=10)},
        {"object": "deals", "name": "partner_deal", "label": "Partner deal", "type": "bool", "is_custom": True,
         "created_at": T0 - timedelta(days=5)},
        {"object": "activities", "name": "call_quality", "label": "Call quality", "type": "str", "is_custom": True,
         "created_at": T0 - timedelta(days=5)},
    ]
    sources = ["ui", "import", "form", "api", "integration"]
    for i in range(companies):
        t["companies"].append({
            "id": nid(), "name": f"Company {i}", "domain": f"company{i}.example", "industry": "SOFTWARE",
            "phone": f"+1 555 01{i:02d}", "street": f"{i} Main St", "city": "Jakarta", "state": None,
            "postal_code": "10110", "country": "Indonesia", "owner_id": owner_ids[i % len(owner_ids)],
            "source": sources[i % 5], "source_detail": "Salesloft" if i % 5 == 4 else None,
            "created_at": T0 - timedelta(days=i), "updated_at": T0 - timedelta(hours=i),
            "tier": "gold" if i % 3 == 0 else None})
    for i in range(contacts):
        company = t["companies"][i % companies] if i % 7 else None
        t["contacts"].append({
            "id": nid(), "first_name": f"Budi{i}", "last_name": f"Santoso{i}" if i % 11 else None,
            "email": f"c{i}@example.com" if i % 13 else None, "phone": None if i % 3 else f"+62 21 {i:04d}",
            "title": "CEO" if i % 5 == 0 else None, "company_id": company["id"] if company else None,
            "company_name": company["name"] if company else None,
            "lifecycle_stage": "lead" if i % 2 else "customer", "lead_status": "NEW" if i % 4 == 0 else None,
            "owner_id": owner_ids[i % len(owner_ids)] if i % 9 else None,
            "street": None, "city": "Seoul" if i % 2 else "London", "state": None, "postal_code": None,
            "country": "KR" if i % 2 else "GB", "source": sources[i % 5],
            "source_detail": "Zapier" if i % 5 == 4 else None, "email_bounced": i % 17 == 0,
            "created_at": T0 - timedelta(days=i, minutes=i), "updated_at": T0 - timedelta(hours=i),
            "last_activity_at": T0 - timedelta(days=i % 30) if i % 4 else None,
            "favourite_colour": "blue" if i % 2 else None, "score_extra": float(i) if i % 3 == 0 else None})
    stages = [("appointmentscheduled", "Appointment", 0, False, False), ("qualified", "Qualified", 1, False, False),
              ("closedwon", "Closed Won", 2, True, True), ("closedlost", "Closed Lost", 3, True, False)]
    for sid, name, pos, closed, won in stages:
        t["stages"].append({"id": sid, "pipeline": "default", "name": name, "position": pos,
                            "is_closed": closed, "is_won": won})
    for i in range(deals):
        sid, _, _, closed, won = stages[i % 4]
        t["deals"].append({
            "id": nid(), "name": f"Deal {i}", "amount": float(1000 * i) if i % 6 else None, "currency": "USD",
            "pipeline": "default", "stage": sid, "is_closed": closed, "is_won": won,
            "close_date": T0 + timedelta(days=i), "lost_reason": "price" if sid == "closedlost" else None,
            "owner_id": owner_ids[i % len(owner_ids)], "company_id": t["companies"][i % companies]["id"] if i % 5 else None,
            "contact_id": t["contacts"][i % contacts]["id"] if i % 4 else None, "source": sources[i % 5],
            "created_at": T0 - timedelta(days=i), "updated_at": T0 - timedelta(hours=i),
            "last_activity_at": None, "partner_deal": bool(i % 2) if i % 3 else None})
    for i in range(activities):
        typ = ACTIVITY_TYPES[i % 6]
        done = typ in ("email", "note", "sms") or i % 4 != 0
        due = T0 - timedelta(days=i % 20)
        t["activities"].append({
            "id": nid(), "type": typ, "subject": f"{typ} {i}", "owner_id": owner_ids[i % len(owner_ids)],
            "contact_id": t["contacts"][i % contacts]["id"] if i % 3 else None,
            "company_id": t["companies"][i % companies]["id"] if i % 4 else None,
            "deal_id": t["deals"][i % deals]["id"] if i % 5 == 0 else None, "due_at": due, "is_done": done,
            "completed_at": (due + timedelta(hours=1) if typ == "task" else due) if done else None,
            "created_at": due - timedelta(days=1), "call_quality": "good" if typ == "call" else None})
    for i in range(campaigns):
        t["campaigns"].append({"id": nid(), "name": f"Newsletter {i}", "type": "email", "sent": 100 + i,
                               "delivered": 95 + i, "opened": 40 + i, "responses": 7 + i,
                               "started_at": T0 - timedelta(days=7 * i)})
    t["platform"].append({"vendor": "hubspot", "edition": "professional", "api_version_used": "v3"})
    return t


@pytest.fixture(scope="session")
def tenant():
    return build_tenant()


@pytest.fixture
def sandbox(tenant):
    handle = start_sandbox(tenant)
    yield handle
    handle.stop()


FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.2, "timeout": 5}


@pytest.fixture(scope="session")
def make_tenant():
    """build_tenant, for tests that need their own (bigger, or mutable) tenant."""
    return build_tenant
