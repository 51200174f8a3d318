"""Independent verification of the tenant generator and its ground-truth manifest.

The recomputations below read only the generated tables (SQL over duckdb, or plain
python), never the generator's internals, so they prove the manifest honest: the ids it
lists are exactly the records that break each default threshold, and a clean tenant
breaks none.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from crm_audit_core.model import ACTIVITY_TYPES, SOURCES, TABLES
from crm_audit_core.sandbox import CHECK_IDS, GeneratedTenant, generate_tenant

UTC = timezone.utc
AS_OF = datetime(2026, 12, 31, tzinfo=UTC)
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)

GROUND_TRUTH = Path(__file__).resolve().parents[2] / "docs" / "dev" / "ground-truth.md"


@pytest.fixture(scope="module")
def dirty() -> GeneratedTenant:
    return generate_tenant(contacts=1500, seed=7, defects=True, name="acme", as_of=AS_OF)


@pytest.fixture(scope="module")
def clean() -> GeneratedTenant:
    return generate_tenant(contacts=1500, seed=7, defects=False, name="acme", as_of=AS_OF)


@pytest.fixture(scope="module")
def tiny() -> GeneratedTenant:
    return generate_tenant(contacts=100, seed=3, defects=True, name="tiny", as_of=MONDAY)


@pytest.fixture(scope="module")
def tiny_clean() -> GeneratedTenant:
    return generate_tenant(contacts=100, seed=3, defects=False, name="tiny", as_of=MONDAY)


ALL = ("dirty", "clean", "tiny", "tiny_clean")


def _db(t: GeneratedTenant) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for name, tbl in t.tables.items():
        con.register(name, tbl)
    return con


def _ids(con, sql: str, **params) -> set[str]:
    return {str(r[0]) for r in con.execute(sql, params or None).fetchall()}


def _asof(t: GeneratedTenant) -> str:
    return t.as_of.strftime("%Y-%m-%d %H:%M:%S+00")


# --------------------------------------------------------------------------- recomputations


def recompute(t: GeneratedTenant) -> dict[str, set[str]]:
    """Every check of the ground-truth table, recomputed from the tables alone."""
    db = _db(t)
    now = f"TIMESTAMPTZ '{_asof(t)}'"
    out: dict[str, set[str]] = {}
    human = "is_active AND role NOT IN ('integration', 'guest')"
    out["usage.login-adoption"] = _ids(db, f"""select id from users where {human}
        and (last_login_at is null or last_login_at < {now} - interval 30 day)""")
    out["usage.inactive-users"] = _ids(db, f"""select id from users u where {human} and not exists (
        select 1 from activities a where a.owner_id = u.id and a.created_at >= {now} - interval 90 day)""")
    out["usage.won-deals-without-activity"] = _ids(db, """select id from deals d where is_won and not exists (
        select 1 from activities a where a.deal_id = d.id)""")
    plat = t.rows("platform")[0]
    ver = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    out["updates.outdated-api-version"] = {plat["vendor"]} if ver(plat["api_version_used"]) < ver(plat["api_version_latest"]) else set()
    out["updates.deprecated-api-version"] = {plat["vendor"]} if plat["api_version_used"] in plat["api_versions_deprecated"] else set()
    out["integrations.stale-syncs"] = _ids(db, f"""select id from integrations where status = 'active'
        and last_sync_at < {now} - interval 7 day""")
    out["integrations.campaign-count-sanity"] = _ids(db, """select id from campaigns
        where responses > sent or opened > delivered or delivered > sent""")
    recs = db.execute("""select source_detail, created_at from contacts where source_detail is not null
        union all select source_detail, created_at from companies where source_detail is not null
        union all select source_detail, created_at from deals where source_detail is not null""").fetchall()
    by_name: dict[str, list[datetime]] = defaultdict(list)
    for name, at in recs:
        by_name[name].append(at)
    integ = t.rows("integrations")
    out["integrations.sync-count-mismatch"] = {
        i["id"] for i in integ if i["records_reported"] is not None
        and abs(i["records_reported"] - len(by_name[i["name"]])) > 0.05 * max(len(by_name[i["name"]]), 1)}
    stopped, spiking = set(), set()
    for i in integ:
        times = by_name[i["name"]]
        if not times:
            continue
        recent = [x for x in times if x >= t.as_of - timedelta(days=30)]
        last = max(times)
        weeks = {(last - x).days // 7 for x in times if x > last - timedelta(weeks=8)}
        if not recent and len(weeks) >= 8:
            stopped.add(i["id"])
        day0 = t.as_of - timedelta(days=90)
        daily = Counter((x - day0).days for x in times if x >= day0)
        counts = [daily.get(d, 0) for d in range(90)]
        med = statistics.median(counts)
        if any(c >= 50 and c > 5 * med for c in counts):
            spiking.add(i["id"])
    out["integrations.stopped-integrations"] = stopped
    out["integrations.spiking-integrations"] = spiking
    silent = set()
    for i in integ:
        acts = by_name[i["name"]] + ([i["last_sync_at"]] if i["last_sync_at"] else [])
        if not acts:
            continue
        last = max(acts)
        days = sorted({x.date() for x in acts if x >= last - timedelta(days=60)})
        gaps = sorted((b - a).days for a, b in zip(days, days[1:]))
        if len(days) >= 10 and (t.as_of - last) > timedelta(days=max(3 * gaps[int(0.9 * (len(gaps) - 1))], 3)):
            silent.add(i["id"])
    out["integrations.silent-integrations"] = silent
    task = "type = 'task' and not is_done"
    out["open-work.overdue-tasks"] = _ids(db, f"select id from activities where {task} and due_at < {now}")
    out["open-work.tasks-without-due-date"] = _ids(db, f"select id from activities where {task} and due_at is null")
    out["open-work.tasks-without-owner"] = _ids(db, f"select id from activities where {task} and owner_id is null")
    out["open-work.deals-past-close-date"] = _ids(db, f"select id from deals where not is_closed and close_date < {now}")
    out["open-work.stalled-deals"] = _ids(db, f"""select id from deals d where not is_closed and not exists (
        select 1 from activities a where a.deal_id = d.id and a.created_at >= {now} - interval 30 day)""")
    out["open-work.lost-deals-without-reason"] = _ids(db, """select id from deals where is_closed and not is_won
        and (lost_reason is null or trim(lost_reason) = '')""")
    out["open-work.deals-without-owner"] = _ids(db, "select id from deals where not is_closed and owner_id is null")
    active_h = db.execute(f"select count(*) from users where {human}").fetchone()[0]
    admins = _ids(db, "select id from users where is_active and is_admin")
    out["security.too-many-admins"] = admins if len(admins) > 0.10 * active_h else set()
    out["security.dormant-users"] = _ids(db, f"""select id from users where {human}
        and (last_login_at is null or last_login_at < {now} - interval 90 day)""")
    out["security.departed-users-owning-work"] = _ids(db, """select id from users u where not is_active and (
        exists (select 1 from deals d where d.owner_id = u.id and not d.is_closed) or
        exists (select 1 from activities a where a.owner_id = u.id and a.type = 'task' and not a.is_done))""")
    out["security.users-without-mfa"] = _ids(db, "select id from users where is_active and not mfa_enabled and role <> 'guest'")
    out["security.failed-login-bursts"] = _ids(db, f"""select distinct a.user_id from login_events a
        join login_events b on a.user_id = b.user_id and b.status = 'failure'
         and b."at" >= a."at" and b."at" < a."at" + interval 1 hour
        where a.status = 'failure' and a."at" >= {now} - interval 30 day
        group by a.user_id, a.id having count(*) >= 5""")
    out["security.logins-from-many-ips"] = _ids(db, f"""select user_id from login_events
        where status = 'success' and "at" >= {now} - interval 30 day group by user_id
        having count(distinct ip) >= 5""")
    out["security.integration-users-with-admin"] = _ids(db, "select id from users where role = 'integration' and is_admin")
    sparse, empty = set(), set()
    for f in t.rows("fields"):
        if not f["is_custom"]:
            continue
        col = t.tables[f["object"]].column(f["name"]).to_pylist()
        filled = sum(1 for v in col if v is not None and str(v).strip() != "")
        if filled == 0:
            empty.add(f"{f['object']}.{f['name']}")
        elif filled < 0.05 * len(col):
            sparse.add(f"{f['object']}.{f['name']}")
    out["data.sparse-custom-fields"] = sparse
    out["data.empty-custom-fields"] = empty
    out["data.untouched-contacts"] = _ids(db, f"""select id from contacts c where updated_at < {now} - interval 730 day
        and (last_activity_at is null or last_activity_at < {now} - interval 730 day)
        and not exists (select 1 from activities a where a.contact_id = c.id and a.created_at >= {now} - interval 730 day)""")
    out["data.untouched-companies"] = _ids(db, f"""select id from companies c where updated_at < {now} - interval 730 day
        and not exists (select 1 from activities a where a.company_id = c.id and a.created_at >= {now} - interval 730 day)""")
    out["data.empty-stages"] = _ids(db, "select id from stages s where not exists (select 1 from deals d where d.stage = s.id)")
    out["data.unsegmented-contacts"] = _ids(db, """select id from contacts where lifecycle_stage is null
        and lead_status is null and (segments is null or len(segments) = 0)""")
    out["data.tiny-segments"] = _ids(db, """select s from (select unnest(segments) as s from contacts)
        group by s having count(*) between 1 and 4""")
    out["data.unreachable-contacts"] = _ids(db, "select id from contacts where email is null and phone is null")
    out["data.companies-without-domain"] = _ids(db, "select id from companies where domain is null or trim(domain) = ''")
    out["data.incomplete-deals"] = _ids(db, "select id from deals where amount is null or close_date is null or stage is null")
    out["data.contacts-without-company-or-stage"] = _ids(db, """select id from contacts where
        (company_id is null and company_name is null) or lifecycle_stage is null""")
    out["data.stale-contacts"] = _ids(db, f"select id from contacts where updated_at < {now} - interval 365 day")
    out["data.bounced-emails"] = _ids(db, "select id from contacts where email_bounced")
    bad_email, bad_phone = set(), set()
    for c in t.rows("contacts"):
        if c["email"] is not None:
            try:
                validate_email(c["email"], check_deliverability=False)
            except EmailNotValidError:
                bad_email.add(c["id"])
        if c["phone"] is not None and not _valid_phone(c["phone"], c["country"]):
            bad_phone.add(c["id"])
    # the copies of each planted cluster (all but its oldest record) name their integration
    records = {r["id"]: r for table in ("contacts", "companies") for r in t.rows(table)}
    by_source = set()
    for table in ("contacts", "companies"):
        for g in t.manifest["duplicates"][table]:
            oldest = min(g, key=lambda i: records[i]["created_at"])
            by_source |= {records[i]["source_detail"] for i in g if i != oldest and records[i]["source"] == "integration"}
    out["integrations.duplicates-by-source"] = {i["id"] for i in integ if i["name"] in by_source}
    out["data.invalid-emails"] = bad_email
    out["data.invalid-phones"] = bad_phone
    out.update(recompute_security(t, db, now))
    return out


def recompute_security(t: GeneratedTenant, db, now: str) -> dict[str, set[str]]:
    """The security and updates checks of issue 16, from the tables alone."""
    out: dict[str, set[str]] = {}
    out["security.health-check-score"] = _ids(db, "select id from security_settings where risk in ('high', 'medium')")
    powers = "('modify_all_data', 'view_all_data', 'manage_users', 'author_apex', 'customize_application')"
    out["security.dangerous-permissions"] = _ids(db, f"""select distinct u.id from users u join permissions p
        on p.user_id = u.id where u.is_active and not u.is_admin and u.role <> 'guest' and p.permission in {powers}""")
    out["security.connected-app-access"] = _ids(db, f"""select id from oauth_grants
        where coalesce(last_used_at, created_at) < {now} - interval 90 day
           or scope = 'all users may self-authorize' or url like 'http://%'""")
    out["security.guest-access"] = _ids(db, f"""select p.id from permissions p join users u on u.id = p.user_id
        where u.role = 'guest' and (p.permission in {powers} or p.permission = 'api_enabled'
           or split_part(p.permission, ':', 2) in ('contact', 'account', 'lead', 'opportunity'))""")
    out["security.admin-changes"] = _ids(db, f"""select a.id from audit_trail a join users u on u.id = a.user_id
        where a.created_at >= {now} - interval 365 day and (not u.is_active or not u.is_admin)""")
    major = lambda v: int(v.split(".")[0])  # noqa: E731
    out["updates.outdated-packages"] = {
        p["id"] for p in t.rows("packages")
        if p["state"] == "deprecated" or (p["latest_version"] and major(p["version"]) < major(p["latest_version"]))}
    newest = max(tuple(int(x) for x in v.split(".")) for v in t.rows("platform")[0]["api_versions_deprecated"])
    out["updates.clients-on-old-api-versions"] = {
        str(r[0]) for r in db.execute(f"""select user_id, api_version from login_events where status = 'success'
            and "at" >= {now} - interval 90 day and api_version is not null""").fetchall()
        if tuple(int(x) for x in r[1].split(".")) <= newest}
    return out


def _valid_phone(phone: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(phone, region))
    except phonenumbers.NumberParseException:
        return False


def _manifest_ids(t: GeneratedTenant, check_id: str) -> set[str]:
    return set(t.manifest["defects"][check_id]["ids"])


# --------------------------------------------------------------------------- the contract


def test_manifest_keys_match_ground_truth_table(dirty, clean):
    table_ids = re.findall(r"^\| ([a-z-]+\.[a-z-]+) \|", GROUND_TRUTH.read_text(encoding="utf-8"), re.M)
    assert table_ids, "could not read the ground-truth table"
    assert set(CHECK_IDS) == set(table_ids)
    for t in (dirty, clean):
        assert set(t.manifest["defects"]) == set(table_ids)
        for cid, entry in t.manifest["defects"].items():
            assert entry["ids"] == sorted(entry["ids"]) and all(isinstance(i, str) for i in entry["ids"])
            assert entry["object"]
        for key in ("seed", "contacts", "as_of", "defects_planted", "duplicates", "duplicate_sources", "common_names"):
            assert key in t.manifest


def test_clean_tenant_has_no_planted_defects(clean, tiny_clean):
    for t in (clean, tiny_clean):
        assert not t.manifest["defects_planted"]
        assert all(e["ids"] == [] for e in t.manifest["defects"].values())
        assert t.manifest["duplicates"] == {"contacts": [], "companies": [], "deals": []}


def test_every_defect_is_planted(dirty, tiny):
    for t in (dirty, tiny):
        empty = [cid for cid, e in t.manifest["defects"].items() if not e["ids"]]
        assert not empty, f"nothing planted for {empty}"


@pytest.mark.parametrize("fixture", ALL)
def test_manifest_is_honest(fixture, request):
    """Recomputing every check from the tables gives exactly the manifest (clean: nothing)."""
    t = request.getfixturevalue(fixture)
    got = recompute(t)
    assert set(got) == set(CHECK_IDS) - {"data.duplicate-contacts", "data.duplicate-companies", "data.duplicate-deals"}
    wrong = {cid: {"missing": sorted(_manifest_ids(t, cid) - ids), "unexpected": sorted(ids - _manifest_ids(t, cid))}
             for cid, ids in got.items() if ids != _manifest_ids(t, cid)}
    assert not wrong


def test_planted_ids_exist(dirty):
    for cid, entry in dirty.manifest["defects"].items():
        obj = entry["object"]
        if obj == "segments":
            names = {s for r in dirty.rows("contacts") for s in (r["segments"] or [])}
            assert set(entry["ids"]) <= names
        elif obj == "fields":
            names = {f"{f['object']}.{f['name']}" for f in dirty.rows("fields")}
            assert set(entry["ids"]) <= names
        else:
            key = TABLES[obj].key
            assert set(entry["ids"]) <= set(dirty.tables[obj].column(key).to_pylist()), cid


# --------------------------------------------------------------------------- shape and determinism


def test_deterministic():
    a = generate_tenant(contacts=300, seed=11, as_of=AS_OF)
    b = generate_tenant(contacts=300, seed=11, as_of=AS_OF)
    c = generate_tenant(contacts=300, seed=12, as_of=AS_OF)
    for name in a.tables:
        assert a.tables[name].equals(b.tables[name]), name
    assert a.manifest == b.manifest
    assert not a.tables["contacts"].equals(c.tables["contacts"])


def test_default_as_of_is_today_midnight_utc():
    t = generate_tenant(contacts=100, seed=1, defects=False)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert t.as_of in (today, today - timedelta(days=1))  # a run across midnight


def test_every_canonical_table_and_column(dirty):
    # sync_counts is what the other side of an integration reports (probes read it from
    # Mailchimp, Xero...): a CRM does not hold it, so a generated CRM tenant has none.
    crm_tables = {name: spec for name, spec in TABLES.items() if name != "sync_counts"}
    assert set(dirty.tables) == set(crm_tables)
    for name, spec in crm_tables.items():
        cols = dirty.tables[name].column_names
        assert cols[: len(spec.columns)] == spec.column_names
        assert "tenant" not in cols and "raw" not in cols
        assert dirty.tables[name].num_rows > 0
    custom = {(f["object"], f["name"]) for f in dirty.rows("fields") if f["is_custom"]}
    for name in ("companies", "contacts", "deals"):
        extra = set(dirty.tables[name].column_names) - set(TABLES[name].column_names)
        assert extra and extra == {n for o, n in custom if o == name}


def test_sizes(dirty):
    n = 1500
    # small tenants keep enough people for an admin under 10% (24), plus the guest user
    assert dirty.tables["users"].num_rows == 25
    assert abs(dirty.tables["companies"].num_rows - n // 4) < 40
    assert n <= dirty.tables["contacts"].num_rows < n * 1.2
    assert abs(dirty.tables["deals"].num_rows - 0.3 * n) < 30
    assert 1.6 * n < dirty.tables["activities"].num_rows < 2.4 * n
    assert dirty.tables["platform"].num_rows == 1
    big = generate_tenant(contacts=20_000, seed=1, defects=False, as_of=AS_OF)
    assert big.tables["users"].num_rows == 51


def test_ids_unique_across_tenant(dirty):
    seen: set[str] = set()
    for name in ("users", "login_events", "companies", "contacts", "deals", "stages", "activities", "campaigns", "integrations",
                 "permissions", "security_settings", "oauth_grants", "audit_trail", "packages"):
        ids = dirty.tables[name].column("id").to_pylist()
        assert all(i.isdigit() for i in ids)
        assert len(set(ids)) == len(ids)
        assert not seen & set(ids)
        seen |= set(ids)


def test_rows_are_python_values(dirty):
    c = dirty.rows("contacts")[0]
    assert isinstance(c["created_at"], datetime) and c["created_at"].utcoffset() == timedelta(0)
    assert isinstance(c["segments"], list)
    assert isinstance(c["email_bounced"], bool)
    assert isinstance(dirty.rows("deals")[0]["amount"], float)


def test_write_csv_folder(dirty, tmp_path):
    dirty.write(tmp_path)
    for name in dirty.tables:
        assert (tmp_path / f"{name}.csv").exists()
    assert (tmp_path / "manifest.json").exists()
    header, first = (tmp_path / "contacts.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert header.replace('"', "").split(",")[: len(TABLES["contacts"].columns)] == TABLES["contacts"].column_names
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first)
    assert "true" in (tmp_path / "stages.csv").read_text() and "false" in (tmp_path / "stages.csv").read_text()
    seg = (tmp_path / "contacts.csv").read_text(encoding="utf-8")
    assert ";" in seg


# --------------------------------------------------------------------------- realism


def test_international_names_and_companies(dirty):
    contacts = dirty.rows("contacts")
    names = {(c["first_name"], c["last_name"]) for c in contacts}
    assert ("Budi", "Santoso") in names and ("민준", "김") in names and ("John", "Smith") in names
    assert any(c["first_name"] in ("José", "Zoë") for c in contacts)
    companies = [c["name"] for c in dirty.rows("companies")]
    for pattern in (r"^PT ", r" Tbk$", r"^CV ", r"^주식회사 ", r"^\(주\)", r" Inc$", r" Ltd$", r" Pty Ltd$", r" GmbH$"):
        assert any(re.search(pattern, n) for n in companies), pattern
    assert {"IDR", "KRW", "USD"} <= {d["currency"] for d in dirty.rows("deals")}
    assert {c["country"] for c in contacts} >= {"ID", "KR", "US", "GB", "AU"}


def test_clean_phones_and_emails_valid(clean):
    for c in clean.rows("contacts"):
        if c["phone"]:
            assert _valid_phone(c["phone"], c["country"]), c["phone"]
        if c["email"]:
            validate_email(c["email"], check_deliverability=False)
    for c in clean.rows("companies"):
        if c["phone"]:
            assert _valid_phone(c["phone"], c["country"]), (c["phone"], c["country"])
    phones = [c["phone"] for c in clean.rows("contacts") if c["phone"]]
    norm = [phonenumbers.format_number(phonenumbers.parse(p, "ID" if not p.startswith("+") else None),
                                       phonenumbers.PhoneNumberFormat.E164) for p in phones if p.startswith("+")]
    assert len(set(norm)) == len(norm)
    emails = [c["email"].lower() for c in clean.rows("contacts") if c["email"]]
    assert len(set(emails)) == len(emails)


def test_vocabularies_and_history(dirty):
    acts = dirty.rows("activities")
    assert {a["type"] for a in acts} == set(ACTIVITY_TYPES)
    assert {c["source"] for c in dirty.rows("contacts")} <= set(SOURCES)
    assert {c["source"] for c in dirty.rows("contacts")} == set(SOURCES)
    integ_names = {i["name"] for i in dirty.rows("integrations")}
    details = {c["source_detail"] for c in dirty.rows("contacts") if c["source"] == "integration"}
    assert details <= integ_names and {"Mailchimp", "Zapier", "Typeform"} <= details
    oldest = min(a["created_at"] for a in acts)
    assert oldest < dirty.as_of - timedelta(days=600)
    weekday = sum(1 for a in acts if a["created_at"].weekday() < 5)
    assert weekday > 0.85 * len(acts)
    years = Counter(d["created_at"].year for d in dirty.rows("deals"))
    assert years[2026] > 50 and years[2025] > 50
    deals = dirty.rows("deals")
    assert {d["pipeline"] for d in deals} == {"Sales Pipeline", "Partnerships"}
    assert any(d["is_won"] for d in deals) and any(d["is_closed"] and not d["is_won"] for d in deals)
    assert any(not d["is_closed"] for d in deals)
    users = dirty.rows("users")
    assert 1 <= sum(u["role"] == "integration" for u in users) <= 2
    for c in dirty.rows("campaigns"):
        if c["id"] not in _manifest_ids(dirty, "integrations.campaign-count-sanity"):
            assert c["sent"] >= c["delivered"] >= c["opened"] >= c["responses"] >= 0
    logins = dirty.rows("login_events")
    assert {e["status"] for e in logins} == {"success", "failure"}
    assert min(e["at"] for e in logins) >= dirty.as_of - timedelta(days=91)


def _norm_email(e: str | None) -> str | None:
    if not e:
        return None
    local, _, domain = e.lower().partition("@")
    local = local.split("+")[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    return local + "@" + domain


def _norm_phone(p: str | None, region: str) -> str | None:
    if not p:
        return None
    try:
        return phonenumbers.format_number(phonenumbers.parse(p, region), phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return None


def _norm_name(first, last) -> str:
    s = unicodedata.normalize("NFKC", f"{first or ''}{last or ''}").lower()
    return "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))


def test_duplicate_clusters_are_findable(dirty):
    """Every duplicate shares a normalised e-mail or phone with its cluster; clean people never do."""
    contacts = {c["id"]: c for c in dirty.rows("contacts")}
    groups = dirty.manifest["duplicates"]["contacts"]
    assert groups and any(len(g) == 3 for g in groups) and any(len(g) == 2 for g in groups)
    assert set(dirty.manifest["defects"]["data.duplicate-contacts"]["ids"]) == {i for g in groups for i in g}
    in_dup = {i for g in groups for i in g}
    for table in ("contacts", "companies", "deals"):
        recs = {r["id"]: r for r in dirty.rows(table)}
        for g in dirty.manifest["duplicates"][table]:
            assert all(recs[g[0]]["created_at"] < recs[i]["created_at"] for i in g[1:]), g
    for g in groups:
        orig = contacts[g[0]]
        for other in g[1:]:
            o = contacts[other]
            assert (_norm_email(o["email"]) and _norm_email(o["email"]) == _norm_email(orig["email"])) or \
                   (_norm_phone(o["phone"], o["country"]) == _norm_phone(orig["phone"], orig["country"]) is not None)
    seen_email, seen_phone = {}, {}
    for c in contacts.values():
        if c["id"] in in_dup:
            continue
        e, p = _norm_email(c["email"]), _norm_phone(c["phone"], c["country"])
        if e:
            assert e not in seen_email, (c["id"], seen_email.get(e))
            seen_email[e] = c["id"]
        if p and c["id"] not in _manifest_ids(dirty, "data.invalid-phones"):
            assert p not in seen_phone
            seen_phone[p] = c["id"]
    companies = {c["id"]: c for c in dirty.rows("companies")}
    cgroups = dirty.manifest["duplicates"]["companies"]
    assert cgroups
    for g in cgroups:
        doms = {(companies[i]["domain"] or "").removeprefix("www.") for i in g}
        assert len(doms) == 1
    deals = {d["id"]: d for d in dirty.rows("deals")}
    for g in dirty.manifest["duplicates"]["deals"]:
        ds = [deals[i] for i in g]
        assert len({d["company_id"] for d in ds}) == 1 and len({d["amount"] for d in ds}) == 1
        assert max(d["created_at"] for d in ds) - min(d["created_at"] for d in ds) < timedelta(days=7)
    srcs = dirty.manifest["duplicate_sources"]
    assert srcs and set(srcs) <= {i for t in ("contacts", "companies", "deals") for g in dirty.manifest["duplicates"][t] for i in g}
    for rid, name in srcs.items():
        rec = contacts.get(rid) or companies.get(rid)
        if rec:
            assert rec["source"] == "integration" and rec["source_detail"] == name


def test_common_names_are_not_duplicates(clean):
    groups = clean.manifest["common_names"]["contacts"]
    assert len(groups) >= 4 and all(len(g) >= 3 for g in groups)
    contacts = {c["id"]: c for c in clean.rows("contacts")}
    for g in groups:
        people = [contacts[i] for i in g]
        assert len({(p["first_name"], p["last_name"]) for p in people}) == 1
        assert len({p["company_id"] for p in people}) == len(people)
        assert len({p["email"] for p in people if p["email"]}) == sum(1 for p in people if p["email"])
    # no two clean contacts with the same name at the same company
    keys = Counter((_norm_name(c["first_name"], c["last_name"]), c["company_id"]) for c in contacts.values())
    assert max(keys.values()) == 1
    names = Counter(_norm_name(c["name"], "") for c in clean.rows("companies"))
    assert max(names.values()) == 1


def test_clean_is_far_from_thresholds(clean):
    db = _db(clean)
    now = f"TIMESTAMPTZ '{_asof(clean)}'"
    human = "is_active AND role NOT IN ('integration', 'guest')"
    assert db.execute(f"select count(*) from users where {human} and last_login_at < {now} - interval 7 day").fetchone()[0] == 0
    assert db.execute(f"""select count(*) from deals d where not is_closed and (close_date <= {now} or not exists (
        select 1 from activities a where a.deal_id = d.id and a.created_at >= {now} - interval 14 day))""").fetchone()[0] == 0
    assert db.execute(f"select count(*) from contacts where updated_at < {now} - interval 300 day").fetchone()[0] == 0
    assert db.execute("select count(*) from contacts where segments is null or len(segments) = 0").fetchone()[0] == 0
    admins, humans = db.execute(f"select count(*) filter (where is_admin), count(*) from users where {human}").fetchone()
    assert 0 < admins <= 0.06 * humans
    smallest = db.execute("select min(n) from (select count(*) n from (select unnest(segments) s from contacts) group by s)").fetchone()[0]
    assert smallest >= 10
