"""Planted defects for Part 2 of the audit: the quality of the data.

Same shape as :mod:`defects_usage`: one small ``plant_x(b)`` per defect family, run in
the order of :data:`PLANTERS`. Duplicate clusters come last so that their originals are
records no other family touched.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

import numpy as np

from . import pools
from .frame import DAY, NULL_ID, NULL_TS, Frame, concat, nones, obj
from .build import HOUR, UTC, Build, add_activities
from .people import gen_companies
from .work import make_activities

# --------------------------------------------------------------------------- fields


def plant_sparse_custom_fields(b: Build) -> None:
    """Custom fields somebody filled on 1-2% of records."""
    rng = b.defect_rng
    con, comp = b.frames["contacts"], b.frames["companies"]
    fax = nones(len(con))
    rows = rng.choice(len(con), size=max(1, len(con) // 100), replace=False)
    fax[rows] = [f"+62 21 {5_000_000 + int(x)}" for x in rng.integers(0, 999_999, size=len(rows))]
    con["fax_number"] = fax
    legacy = nones(len(comp))
    rows = rng.choice(len(comp), size=max(1, len(comp) // 50), replace=False)
    legacy[rows] = [f"OLD-{int(x):06d}" for x in rng.integers(0, 999_999, size=len(rows))]
    comp["legacy_crm_id"] = legacy
    b.add_custom_field("contacts", "fax_number", "Fax number", "string", b.T - 1400 * DAY)
    b.add_custom_field("companies", "legacy_crm_id", "Legacy CRM ID", "string", b.T - 1300 * DAY)
    b.record("data.sparse-custom-fields", ["contacts.fax_number", "companies.legacy_crm_id"])


def plant_empty_custom_fields(b: Build) -> None:
    """Custom fields created and never filled."""
    b.frames["contacts"]["twitter_handle"] = nones(len(b.frames["contacts"]))
    b.frames["deals"]["partner_referral_code"] = nones(len(b.frames["deals"]))
    b.add_custom_field("contacts", "twitter_handle", "Twitter handle", "string", b.T - 900 * DAY)
    b.add_custom_field("deals", "partner_referral_code", "Partner referral code", "string", b.T - 600 * DAY)
    b.record("data.empty-custom-fields", ["contacts.twitter_handle", "deals.partner_referral_code"])


# --------------------------------------------------------------------------- untouched & stale


def _base_contacts(b: Build) -> np.ndarray:
    return np.arange(len(b.frames["contacts"])) < b.n_base_contacts


def plant_untouched_contacts(b: Build) -> None:
    """Contacts nobody updated or worked with for 2+ years (they are stale too)."""
    rng = b.defect_rng
    con, a = b.frames["contacts"], b.frames["activities"]
    recent = set(a["contact_id"][a["created_at"] >= b.T - 120 * DAY].tolist())
    on_deals = set(b.frames["deals"]["contact_id"].tolist())
    busy = np.isin(con["id"], np.fromiter(recent | on_deals, dtype=np.int64))
    rows = b.pick("contacts", b.scaled(250), _base_contacts(b) & ~busy & (con["source"] != "integration"))
    con["created_at"][rows] = b.T - rng.integers(1000, 1800, size=len(rows)) * DAY
    con["updated_at"][rows] = b.T - rng.integers(760, 990, size=len(rows)) * DAY
    ids = con["id"][rows]
    b.frames["activities"] = a.take(~np.isin(a["contact_id"], ids))
    b.record("data.untouched-contacts", ids)
    b.record("data.stale-contacts", ids)


def plant_untouched_companies(b: Build) -> None:
    """Old accounts with no contacts, no deals and no activity for 2+ years."""
    rng = b.defect_rng
    n = b.scaled(400)
    created = b.T - rng.integers(1000, 2000, size=n) * DAY
    updated = b.T - rng.integers(760, 1000, size=n) * DAY
    source = obj(["import"] * n)
    detail = obj([f"CSV import {datetime.fromtimestamp(int(c), UTC):%Y-%m-%d}" for c in created])
    fr = gen_companies(b, rng, n, created=created, updated=updated, source=source, source_detail=detail)
    b.frames["companies"].extend(fr)
    b.mark("companies", fr["id"])
    b.record("data.untouched-companies", fr["id"])


def plant_stale_contacts(b: Build) -> None:
    rng = b.defect_rng
    con = b.frames["contacts"]
    rows = b.pick("contacts", b.scaled(150), _base_contacts(b))
    con["updated_at"][rows] = b.T - rng.integers(380, 700, size=len(rows)) * DAY
    con["created_at"][rows] = np.minimum(con["created_at"][rows], con["updated_at"][rows] - 30 * DAY)
    b.record("data.stale-contacts", con["id"][rows])


# --------------------------------------------------------------------------- stages & segments


def plant_empty_stages(b: Build) -> None:
    st = b.frames["stages"]
    new = [("Sales Pipeline", "On Hold (legacy)"), ("Partnerships", "Pilot (unused)")]
    if b.n_contacts >= 50_000:
        new.append(("Sales Pipeline", "Verbal Commitment"))
    ids = b.new_ids(len(new))
    for (pipe, name), sid in zip(new, ids):
        in_pipe = st["pipeline"] == pipe
        n_open = int((in_pipe & ~st["is_closed"]).sum())
        st["position"][in_pipe & st["is_closed"]] += 1
        st.extend(Frame({"id": np.array([sid]), "pipeline": obj([pipe]), "name": obj([name]),
                         "position": np.array([n_open + 1]), "is_closed": np.array([False]),
                         "is_won": np.array([False])}))
    b.record("data.empty-stages", ids)


def plant_unsegmented_contacts(b: Build) -> None:
    con = b.frames["contacts"]
    rows = b.pick("contacts", b.scaled(200), _base_contacts(b))
    con["lifecycle_stage"][rows] = None
    con["lead_status"][rows] = None
    con["segments"][rows] = None
    ids = con["id"][rows]
    b.record("data.unsegmented-contacts", ids)
    b.record("data.contacts-without-company-or-stage", ids)


TINY_SEGMENTS = ("Test list - do not use", "Bali Retreat 2024", "부산 전시회 2024", "Webinar Q3 no-shows",
                 "Old VIP import", "Surabaya roadshow")


def plant_tiny_segments(b: Build) -> None:
    rng = b.defect_rng
    con = b.frames["contacts"]
    names = TINY_SEGMENTS[: max(2, min(len(TINY_SEGMENTS), b.n_contacts // 500))]
    for j, name in enumerate(names):
        rows = b.pick("contacts", 1 + j % 4, _base_contacts(b) & (con["segments"] != None))  # noqa: E711
        for r in rows:
            con["segments"][r] = f"{con['segments'][r]};{name}"
    b.record("data.tiny-segments", names)


# --------------------------------------------------------------------------- missing & invalid data


def plant_unreachable_contacts(b: Build) -> None:
    con = b.frames["contacts"]
    rows = b.pick("contacts", b.scaled(250), _base_contacts(b))
    con["email"][rows] = None
    con["phone"][rows] = None
    b.record("data.unreachable-contacts", con["id"][rows])


def plant_contacts_without_company(b: Build) -> None:
    con = b.frames["contacts"]
    rows = b.pick("contacts", b.scaled(250), _base_contacts(b))
    con["company_id"][rows] = NULL_ID
    con["company_name"][rows] = None
    b.record("data.contacts-without-company-or-stage", con["id"][rows])


def plant_contacts_without_stage(b: Build) -> None:
    con = b.frames["contacts"]
    rows = b.pick("contacts", b.scaled(250), _base_contacts(b))
    con["lifecycle_stage"][rows] = None
    b.record("data.contacts-without-company-or-stage", con["id"][rows])


def plant_companies_without_domain(b: Build) -> None:
    comp = b.frames["companies"]
    base = np.arange(len(comp)) < len(b.assignable_companies)
    rows = b.pick("companies", b.scaled(400), base)
    for j, r in enumerate(rows):
        comp["domain"][r] = None if j % 2 == 0 else ""
    b.record("data.companies-without-domain", comp["id"][rows])


def _broken_email(local: str, domain: str, kind: int) -> str:
    """An address email-validator rejects (no DNS): the typos and leftovers CRMs collect."""
    stem = domain.split(".")[0]
    return (
        f"{local}@{stem}",          # no top-level domain
        f"{local} @{domain}",       # a space
        f"{local}@@{domain}",       # two @
        f"{local}.{domain}",        # no @ at all
        f".{local}@{domain}",       # starts with a dot
        f"{local}@{domain}.",       # ends with a dot
        f"{local}@-{domain}",       # hyphen right after the @
        f"{local}@{stem}.test",     # a special-use domain
    )[kind % 8]


def plant_invalid_emails(b: Build) -> None:
    con = b.frames["contacts"]
    rows = b.pick("contacts", b.scaled(250), _base_contacts(b) & (con["email"] != None))  # noqa: E711
    for j, r in enumerate(rows):
        local, _, domain = con["email"][r].partition("@")
        con["email"][r] = _broken_email(local, domain, j)
    b.record("data.invalid-emails", con["id"][rows])


INVALID_PHONES = ("12345", "+62 812", "0000-000", "n/a", "+82 10-1234", "+1 555 01")


def plant_invalid_phones(b: Build) -> None:
    con = b.frames["contacts"]
    rows = b.pick("contacts", b.scaled(250), _base_contacts(b) & (con["phone"] != None))  # noqa: E711
    for j, r in enumerate(rows):
        con["phone"][r] = INVALID_PHONES[j % len(INVALID_PHONES)]
    b.record("data.invalid-phones", con["id"][rows])


def plant_bounced_emails(b: Build) -> None:
    con = b.frames["contacts"]
    rows = b.pick("contacts", b.scaled(200), _base_contacts(b) & (con["email"] != None))  # noqa: E711
    con["email_bounced"][rows] = True
    b.record("data.bounced-emails", con["id"][rows])


# --------------------------------------------------------------------------- duplicates


CONTACT_DUP_SOURCES = ("Mailchimp", "Zapier", "LinkedIn Lead Gen")
COMPANY_DUP_SOURCES = ("Accounting Sync", "Zapier")


def _cluster_sizes(rng, n: int) -> list[int]:
    return [3 if x < 0.3 else 2 for x in rng.random(n)]


def _dup_source(b: Build, rng, names, orig_created: int):
    """(source, source_detail, created_at) of a copy, always created after its original."""
    if rng.random() < 0.65:
        name = names[int(rng.integers(0, len(names)))]
        lo, hi = b.integration_window[name]
        created = orig_created + int(rng.integers(1, 200)) * DAY + int(rng.integers(0, DAY))
        created = int(min(max(created, lo + HOUR), hi - HOUR))
        if created > orig_created:
            return "integration", name, created
    created = int(min(orig_created + int(rng.integers(1, 300)) * DAY, b.T - DAY))
    if created <= orig_created:
        created = orig_created + (b.T - orig_created) // 2
    return "import", f"CSV import {datetime.fromtimestamp(created, UTC):%Y-%m-%d}", created


def _typo(s: str, rng) -> str:
    if _hangul(s):  # decomposed jamo: looks the same, compares different until NFKC
        return unicodedata.normalize("NFD", s)
    if len(s) < 4:
        return s + s[-1]
    i = int(rng.integers(1, len(s) - 2))
    return s[:i] + s[i + 1] + s[i] + s[i + 2:] if rng.random() < 0.5 else s[:i] + s[i + 1:]


def _hangul(s) -> bool:
    return bool(s) and any("\uac00" <= ch <= "\ud7a3" for ch in s)


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _mixed_case(email: str) -> str:
    local, _, domain = email.partition("@")
    parts = local.split(".")
    return ".".join(p.capitalize() for p in parts) + "@" + domain.capitalize()


def _flip_phone(b: Build, con, r: int) -> str | None:
    phone = con["phone"][r]
    if phone is None:
        return None
    national = not phone.startswith("+")
    return pools.format_mobiles(con["country"][r], con["_phone_num"][r:r + 1], con["_phone_choice"][r:r + 1],
                                np.array([not national]))[0]


def _contact_variant(b: Build, con, r: int, kind: int, rng) -> dict:
    first, last, email, phone = con["first_name"][r], con["last_name"][r], con["email"][r], con["phone"][r]
    if kind == 0:  # e-mail in another case, phone kept
        return {"email": _mixed_case(email)}
    if kind == 1:  # plus-addressing, no phone
        local, _, domain = email.partition("@")
        return {"email": f"{local}+newsletter@{domain}", "phone": None}
    if kind == 2:  # same phone in the other format (national vs international), no e-mail
        return {"email": None, "phone": _flip_phone(b, con, r)}
    if kind == 3:  # a typo in the name (Hangul: decomposed jamo), same e-mail
        if last and rng.random() < 0.5:
            return {"last_name": _typo(last, rng), "phone": None}
        return {"first_name": _typo(first, rng), "phone": None}
    if kind == 4:  # first and last name swapped, same phone
        if _hangul(first) and last:  # Korean: the whole name in the first-name field
            return {"first_name": f"{last}{first}", "last_name": None, "email": None}
        return {"first_name": last or first, "last_name": first if last else None, "email": None}
    # accents stripped / full-width letters (NFKC folds them back), same e-mail upper-cased
    if not _hangul(first) and pools.ascii_fold(first) != first:
        return {"first_name": pools.ascii_fold(first), "email": email.upper()}
    if not _hangul(first):
        return {"first_name": _fullwidth(first), "email": email.upper()}
    return {"first_name": unicodedata.normalize("NFD", first), "email": email.upper()}


def plant_duplicate_contacts(b: Build) -> None:
    rng = b.defect_rng
    con = b.frames["contacts"]
    n = b.scaled(100, minimum=4)
    ok = _base_contacts(b) & (con["email"] != None) & (con["phone"] != None)  # noqa: E711
    origs = b.pick("contacts", n, ok)
    groups, kind, added = [], 0, []
    for r, size in zip(origs, _cluster_sizes(rng, len(origs))):
        group = [int(con["id"][r])]
        for _ in range(size - 1):
            row = con.take(np.array([r]))
            for col, val in _contact_variant(b, con, r, kind % 6, rng).items():
                row[col][0] = val
            kind += 1
            source, detail, created = _dup_source(b, rng, CONTACT_DUP_SOURCES, int(con["created_at"][r]))
            row["id"] = b.new_ids(1)
            row["source"][0], row["source_detail"][0] = source, detail
            row["created_at"][0] = created
            row["updated_at"][0] = max(created, b.T - int(rng.integers(1, 200)) * DAY)
            row["last_activity_at"][0] = NULL_TS
            added.append(row)
            group.append(int(row["id"][0]))
            if source == "integration":
                b.duplicate_sources[str(row["id"][0])] = detail
        b.mark("contacts", group)
        groups.append(sorted(group))
    if added:
        con.extend(concat(added))
    b.duplicates["contacts"] = sorted(groups)
    b.record("data.duplicate-contacts", [i for g in groups for i in g])


def _company_variant(culture: str, bare: str, form: str, kind: int) -> str:
    if culture == "ID":
        opts = (bare, f"PT. {bare.upper()}", f"{bare}, PT", f"PT {bare} Tbk" if "Tbk" not in form else f"PT {bare}",
                f"CV {bare}" if form.startswith("PT") else f"PT {bare}")
    elif culture == "KR":
        opts = (f"(주){bare}" if "(주)" not in form else f"주식회사 {bare}", f"㈜{bare}", bare, f"{bare} 주식회사",
                f"{bare}(주)")
    else:
        opts = (bare, f"{bare}, Inc." if form != "{}, Inc." else f"{bare} Inc", bare.upper(), f"{bare} Ltd",
                f"{bare} Pty Ltd", f"{bare} Co., Ltd.", f"{bare} GmbH")
    return opts[kind % len(opts)]


def plant_duplicate_companies(b: Build) -> None:
    rng = b.defect_rng
    comp = b.frames["companies"]
    n = b.scaled(400, minimum=3)
    base = np.arange(len(comp)) < len(b.assignable_companies)
    origs = b.pick("companies", n, base & (comp["domain"] != None))  # noqa: E711
    groups, kind, added = [], 0, []
    for r, size in zip(origs, _cluster_sizes(rng, len(origs))):
        group = [int(comp["id"][r])]
        culture = pools.BY_CODE[comp["country"][r]].culture
        for _ in range(size - 1):
            row = comp.take(np.array([r]))
            name = _company_variant(culture, comp["_bare"][r], comp["_form"][r], kind)
            if name == comp["name"][r]:
                name = _company_variant(culture, comp["_bare"][r], comp["_form"][r], kind + 1)
            row["name"][0] = name
            if kind % 3 == 1:
                row["domain"][0] = "www." + comp["domain"][r]
            if kind % 4 == 2:
                row["phone"][0] = None
            kind += 1
            source, detail, created = _dup_source(b, rng, COMPANY_DUP_SOURCES, int(comp["created_at"][r]))
            row["id"] = b.new_ids(1)
            row["source"][0], row["source_detail"][0] = source, detail
            row["created_at"][0] = created
            row["updated_at"][0] = max(created, b.T - int(rng.integers(1, 200)) * DAY)
            added.append(row)
            group.append(int(row["id"][0]))
            if source == "integration":
                b.duplicate_sources[str(row["id"][0])] = detail
        b.mark("companies", group)
        groups.append(sorted(group))
    if added:
        comp.extend(concat(added))
    b.duplicates["companies"] = sorted(groups)
    b.record("data.duplicate-companies", [i for g in groups for i in g])


def record_duplicates_by_source(b: Build) -> None:
    """Integrations that created copies of contacts or companies (deals carry no source_detail)."""
    copies = {str(i) for t in ("contacts", "companies") for g in b.duplicates[t] for i in g[1:]}
    names = {name for rid, name in b.duplicate_sources.items() if rid in copies}
    i = b.frames["integrations"]
    b.record("integrations.duplicates-by-source", i["id"][np.isin(i["name"], list(names))])


def _deal_name_variant(name: str, kind: int) -> str:
    return (name.replace(" - ", " – "), name.lower(), name + " ", name.replace(" - ", " "))[kind % 4]


def plant_duplicate_deals(b: Build) -> None:
    """The same deal entered twice (or by a sync): same company, amount, near name, days apart."""
    rng = b.defect_rng
    d = b.frames["deals"]
    n = b.scaled(500, minimum=3)
    ok = ~d["is_closed"] & (d["owner_id"] >= 0) & (d["created_at"] < b.T - 20 * DAY) & (d["close_date"] != NULL_TS)
    ok &= ~np.isnan(d["amount"]) & (d["stage"] >= 0)
    origs = b.pick("deals", n, ok)
    groups, kind, added, acts = [], 0, [], []
    pool = b.clean_owner_ids()
    for r, size in zip(origs, _cluster_sizes(rng, len(origs))):
        group = [int(d["id"][r])]
        for _ in range(size - 1):
            row = d.take(np.array([r]))
            row["name"][0] = _deal_name_variant(d["name"][r], kind)
            kind += 1
            row["id"] = b.new_ids(1)
            created = int(d["created_at"][r]) + int(rng.integers(HOUR, 3 * DAY))
            row["created_at"][0] = created
            row["updated_at"][0] = max(created, b.T - int(rng.integers(1, 5)) * DAY)
            if rng.random() < 0.6:
                row["source"][0], row["_source_detail"][0] = "integration", "Zapier"
                b.duplicate_sources[str(row["id"][0])] = "Zapier"
            else:
                row["source"][0], row["_source_detail"][0] = "import", None
            added.append(row)
            touched = b.T - int(rng.integers(1, 9)) * DAY - int(rng.integers(0, 8)) * HOUR
            acts.append(make_activities(b, rng, obj(["call"]), np.array([touched]),
                                        pool[rng.integers(0, len(pool), size=1)], row["contact_id"],
                                        row["company_id"], row["id"]))
            group.append(int(row["id"][0]))
        b.mark("deals", group)
        groups.append(sorted(group))
    if added:
        d.extend(concat(added))
        add_activities(b, concat(acts))
    b.duplicates["deals"] = sorted(groups)
    b.record("data.duplicate-deals", [i for g in groups for i in g])


PLANTERS = [
    plant_sparse_custom_fields,
    plant_empty_custom_fields,
    plant_untouched_contacts,
    plant_untouched_companies,
    plant_stale_contacts,
    plant_empty_stages,
    plant_unsegmented_contacts,
    plant_tiny_segments,
    plant_unreachable_contacts,
    plant_contacts_without_company,
    plant_contacts_without_stage,
    plant_companies_without_domain,
    plant_invalid_emails,
    plant_invalid_phones,
    plant_bounced_emails,
    plant_duplicate_contacts,
    plant_duplicate_companies,
    record_duplicates_by_source,
    plant_duplicate_deals,
]
