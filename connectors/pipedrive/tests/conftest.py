"""Fixtures: a small canonical tenant (generated when the generator is installed, built
by hand otherwise) served by the Pipedrive sandbox over real HTTP."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from crm_audit_pipedrive.sandbox import start_sandbox

UTC = timezone.utc
BASE = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

# Fast retries so fault tests stay quick.
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "rate_limit": 1000}


def hand_tenant(contacts: int = 1203, companies: int = 240, deals: int = 510, activities: int = 620, seed: int = 7) -> dict:
    """A canonical tenant with every table Pipedrive holds; ids unique across tables."""
    rng = random.Random(seed)
    seq = iter(range(1000, 10_000_000))
    nid = lambda: str(next(seq))  # noqa: E731
    t: dict[str, list[dict]] = {}
    roles = ["Sales", "Management", None]
    t["users"] = [
        {"id": nid(), "name": f"User {i}", "email": f"user{i}@example.com", "role": roles[i % 3],
         "is_active": i % 5 != 0, "is_admin": i == 0,
         "last_login_at": None if i % 4 == 3 else BASE - timedelta(days=i, seconds=17 * i),
         "created_at": BASE - timedelta(days=400 + i)}
        for i in range(7)
    ]
    owners = [u["id"] for u in t["users"]]
    t["stages"] = []
    for p in ("Sales", "Renewals"):
        for pos, name in enumerate(("Lead in", "Qualified", "Proposal", "Negotiation"), 1):
            t["stages"].append({"id": nid(), "pipeline": p, "name": name, "position": pos})
    t["fields"] = [
        {"object": "contacts", "name": "customer_tier", "label": "Customer tier", "type": "string", "is_custom": True},
        {"object": "contacts", "name": "nps_score", "label": "NPS score", "type": "number", "is_custom": True},
        {"object": "companies", "name": "employees", "label": "Employees", "type": "number", "is_custom": True},
        {"object": "deals", "name": "product_line", "label": "Product line", "type": "string", "is_custom": True},
        {"object": "deals", "name": "interests", "label": "Interests", "type": "enumeration", "is_custom": True},
    ]
    cities = ["Jakarta", "Seoul", "London", "Surabaya", None]
    t["companies"] = [
        {"id": nid(), "name": f"PT Maju {i}" if i % 2 else f"주식회사 {i}", "domain": f"co{i}.example" if i % 3 else None,
         "industry": ["Retail", "Software", None][i % 3], "phone": f"+62 21 555 {i:04d}" if i % 4 else None,
         "street": f"Jalan Sudirman {i}" if i % 5 else None, "city": cities[i % 5], "state": None,
         "postal_code": f"{10000 + i}" if i % 5 else None, "country": ["ID", "KR", "GB", "ID", None][i % 5],
         "owner_id": owners[i % len(owners)], "created_at": BASE - timedelta(days=i, minutes=i),
         "updated_at": BASE - timedelta(hours=i), "employees": float(i * 10) if i % 2 else None}
        for i in range(companies)
    ]
    comp = {c["id"]: c["name"] for c in t["companies"]}
    cids = list(comp)
    t["contacts"] = []
    for i in range(contacts):
        company = cids[i % len(cids)] if i % 7 else None
        t["contacts"].append(
            {"id": nid(), "first_name": ["Budi", "Ji-woo", "Alice", "Siti"][i % 4], "last_name": f"N{i}",
             "email": f"c{i}@example.com" if i % 9 else None, "phone": f"+62 812 {i:06d}" if i % 3 else None,
             "title": "Manager" if i % 2 else None, "company_id": company,
             "company_name": comp.get(company), "segments": [["vip"], ["newsletter", "vip"], []][i % 3],
             "owner_id": owners[i % len(owners)], "street": None, "city": cities[i % 5], "state": None,
             "postal_code": None, "country": None,
             "created_at": BASE - timedelta(days=i % 300, seconds=i), "updated_at": BASE - timedelta(days=i % 30),
             "last_activity_at": None,
             "customer_tier": ["gold", "silver", "bronze", None][i % 4], "nps_score": float(i % 11) if i % 2 else None}
        )
    pids = [c["id"] for c in t["contacts"]]
    stage_by_pipe = {}
    for s in t["stages"]:
        stage_by_pipe.setdefault(s["pipeline"], []).append(s["id"])
    t["deals"] = []
    for i in range(deals):
        pipe = ["Sales", "Renewals"][i % 2]
        closed, won = i % 3 != 0, i % 3 == 1
        close = BASE - timedelta(days=i % 200, hours=3) if closed else datetime(2026, 6, 1 + i % 28, tzinfo=UTC)
        t["deals"].append(
            {"id": nid(), "name": f"Deal {i}", "amount": float(1000 + i), "currency": ["USD", "IDR", "KRW"][i % 3],
             "pipeline": pipe, "stage": stage_by_pipe[pipe][i % 4], "is_closed": closed, "is_won": won,
             "close_date": close, "lost_reason": ("Price" if i % 2 else None) if closed and not won else None,
             "owner_id": owners[i % len(owners)], "company_id": cids[i % len(cids)] if i % 5 else None,
             "contact_id": pids[i % len(pids)] if i % 4 else None,
             "source": ["ui", "import", "api", "form", "integration", None][i % 6],
             "created_at": BASE - timedelta(days=300 - i % 250), "updated_at": BASE - timedelta(days=i % 20),
             "last_activity_at": None,
             "product_line": ["Core", "Add-on", None][i % 3], "interests": [["a", "b"], ["b"], None][i % 3]}
        )
    dids = [d["id"] for d in t["deals"]]
    types = ["call", "email", "meeting", "task", "sms", "note"]
    t["activities"] = []
    for i in range(activities):
        kind = types[i % len(types)]
        done = i % 2 == 0 or kind == "note"
        due = None if kind == "note" or i % 10 == 9 else BASE + timedelta(days=rng.randint(-90, 30), hours=i % 9, minutes=15)
        t["activities"].append(
            {"id": nid(), "type": kind, "subject": f"{kind} {i}", "owner_id": owners[i % len(owners)] if i % 11 else None,
             "contact_id": pids[i % min(50, len(pids))] if i % 3 else None, "company_id": cids[i % min(20, len(cids))] if i % 4 == 0 else None,
             "deal_id": dids[i % min(40, len(dids))] if i % 5 == 0 else None, "due_at": due, "is_done": done,
             "completed_at": (BASE - timedelta(days=i % 60, seconds=i)) if done else None,
             "created_at": BASE - timedelta(days=100 + i % 60)}
        )
    for a in t["activities"]:
        if a["type"] == "note":
            a["due_at"] = None
            a["completed_at"] = a["created_at"]
    # last_activity_at as Pipedrive derives it: the latest done activity's date
    latest: dict = {}
    for a in t["activities"]:
        if not a["is_done"] or a["type"] == "note":
            continue
        when = a["due_at"] or a["completed_at"] or a["created_at"]
        for col in ("contact_id", "deal_id"):
            if a[col] and (a[col] not in latest or when > latest[a[col]]):
                latest[a[col]] = when
    for row in t["contacts"] + t["deals"]:
        row["last_activity_at"] = latest.get(row["id"])
    t["integrations"] = [
        {"id": nid(), "name": "Mailchimp sync", "kind": "app", "status": "active",
         "last_sync_at": BASE - timedelta(hours=2), "created_at": BASE - timedelta(days=500)},
        {"id": nid(), "name": "Zapier", "kind": "webhook", "status": "failing",
         "last_sync_at": BASE - timedelta(days=40), "created_at": BASE - timedelta(days=300)},
        {"id": nid(), "name": "Old form", "kind": "webhook", "status": "inactive",
         "last_sync_at": None, "created_at": BASE - timedelta(days=900)},
    ]
    t["platform"] = [{"vendor": "pipedrive", "edition": None, "api_version_used": "v2", "api_version_latest": "v2",
                      "api_versions_deprecated": ["v1"]}]
    return t


@pytest.fixture(scope="session")
def tenant():
    return hand_tenant()


@pytest.fixture(scope="session")
def small_tenant():
    return hand_tenant(contacts=40, companies=10, deals=20, activities=30, seed=3)


@pytest.fixture
def sandbox(small_tenant):
    handle = start_sandbox(small_tenant)
    yield handle
    handle.stop()


def options(handle, **extra):
    return {**handle.options, **FAST, **extra}


@pytest.fixture
def pd_options():
    """options(handle, **extra): connector options that reach a sandbox, fast retries."""
    return options


@pytest.fixture(scope="session")
def make_tenant():
    return hand_tenant
