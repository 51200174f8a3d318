"""Base generation of people and organisations: users and their logins, companies and
contacts, with names, e-mail addresses and phone numbers true to each country.

Clean by construction: unique e-mail mailboxes (:func:`email_key`), unique valid mobile
numbers, no two clean contacts with one name at one company; people who share a common
name work at different companies. Planters reuse ``gen_companies`` / ``gen_contacts`` to
make the copies of duplicate clusters.
"""

from __future__ import annotations

import numpy as np

from . import pools
from .build import HOUR, Build, weekday_of
from .frame import DAY, NULL_ID, NULL_TS, Frame, nones, obj
from .integrations import integration_detail, sourced_created
from .shape import hangul_domain
from .vocabulary import INTEGRATION_USERS, LEAD_STATUSES, LEAD_WEIGHTS, LIFECYCLE_STAGES, LIFECYCLE_WEIGHTS, SEGMENTS


# --------------------------------------------------------------------------- names, e-mails, phones


def _folded(pool) -> np.ndarray:
    return obj([pools.ascii_fold(s).lower().replace(" ", "") for s in pool])


_POOLS: dict[str, tuple] = {}


def _pool(culture: str):
    if not _POOLS:
        _POOLS["ID"] = (obj(pools.ID_FIRST), obj(pools.ID_LAST), _folded(pools.ID_FIRST), _folded(pools.ID_LAST))
        _POOLS["KR"] = (obj([h for h, _ in pools.KR_FIRST]), obj([h for h, _ in pools.KR_LAST]),
                        obj([r for _, r in pools.KR_FIRST]), obj([r for _, r in pools.KR_LAST]))
        _POOLS["EN"] = (obj(pools.EN_FIRST), obj(pools.EN_LAST), _folded(pools.EN_FIRST), _folded(pools.EN_LAST))
        _POOLS["DE"] = (obj(pools.DE_FIRST), obj(pools.DE_LAST), _folded(pools.DE_FIRST), _folded(pools.DE_LAST))
    return _POOLS[culture]


def person_names(rng, countries: np.ndarray, latin_share: float = 0.15):
    """first, last (display), and their ASCII forms for e-mail local parts.

    ``latin_share``: Korean people whose names are written in Latin script, not Hangul."""
    n = len(countries)
    first, last, efirst, elast = nones(n), nones(n), nones(n), nones(n)
    for code in pools.COUNTRY_CODES:
        idx = np.nonzero(countries == code)[0]
        m = len(idx)
        if not m:
            continue
        culture = pools.BY_CODE[code].culture
        if culture == "DE":  # many people in German companies carry English names too
            culture_of = np.where(rng.random(m) < 0.7, "DE", "EN")
        else:
            culture_of = np.full(m, culture)
        for cult in ("ID", "KR", "EN", "DE"):
            sub = idx[culture_of == cult]
            k = len(sub)
            if not k:
                continue
            pf, pl, ef, el = _pool(cult)
            f = rng.integers(len(pf), size=k)
            lidx = rng.integers(len(pl), size=k)
            fa, la, efa, ela = pf[f], pl[lidx], ef[f], el[lidx]
            if cult == "KR":
                roman = rng.random(k) < latin_share  # some Korean contacts are written in Latin script
                fa = fa.copy()
                la = la.copy()
                fa[roman] = [s.capitalize() for s in efa[roman]]
                la[roman] = [s.capitalize() for s in ela[roman]]
            if cult == "ID":
                mono = rng.random(k) < 0.03  # mononymous Indonesians
                la = la.copy()
                ela = ela.copy()
                la[mono] = None
                ela[mono] = None
            first[sub], last[sub], efirst[sub], elast[sub] = fa, la, efa, ela
    return first, last, efirst, elast


def full_name(first, last) -> str:
    if last is None:
        return first or ""
    if first and _is_hangul(first):
        return f"{last}{first}"
    return f"{first} {last}"


def _is_hangul(s: str) -> bool:
    return bool(s) and "\uac00" <= s[0] <= "\ud7a3"


def email_locals(rng, efirst, elast) -> list[str]:
    style = rng.integers(0, 4, size=len(efirst))
    out = []
    for f, l, s in zip(efirst.tolist(), elast.tolist(), style.tolist()):
        if not l:
            out.append(f)
        elif s == 0 or s == 3:
            out.append(f"{f}.{l}")
        elif s == 1:
            out.append(f"{f}{l}")
        else:
            out.append(f"{f[0]}{l}")
    return out


def email_key(email: str) -> str:
    """The form under which two addresses reach the same mailbox: case, ``+tag`` and
    (for Gmail) dots in the local part do not count."""
    local, _, domain = email.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def unique_emails(b: Build, locals_, domains) -> list[str]:
    """Addresses that stay distinct under :func:`email_key` (numbered when taken)."""
    used = b.email_used
    out = []
    for loc, dom in zip(locals_, domains):
        e = f"{loc}@{dom}"
        key = email_key(e)
        k = used.get(key)
        if k is None:
            used[key] = 1
            out.append(e)
            continue
        while True:
            k += 1
            e2 = f"{loc}{k}@{dom}"
            key2 = email_key(e2)
            if key2 not in used:
                break
        used[key] = k
        used[key2] = 1
        out.append(e2)
    return out


def mobile_phones(b: Build, rng, countries: np.ndarray):
    """Unique valid mobile numbers (strings) plus their digits and prefix choice."""
    n = len(countries)
    phones = nones(n)
    nums = np.zeros(n, dtype=np.int64)
    choice = rng.integers(0, 1000, size=n)
    national = rng.random(n) < 0.15
    spaces = pools.MOBILE_SPACE
    for code in pools.COUNTRY_CODES:
        idx = np.nonzero(countries == code)[0]
        if not len(idx):
            continue
        start = b.phone_cursor[code]
        b.phone_cursor[code] += len(idx)
        v = pools.permute(np.arange(start, start + len(idx)), spaces[code], salt=b.seed * 7919 + 13)
        nums[idx] = v
        phones[idx] = pools.format_mobiles(code, v, choice[idx], national[idx])
    return phones, nums, choice


# --------------------------------------------------------------------------- users & logins


def gen_users(b: Build) -> None:
    rng = b.rng
    n = max(24, min(max(b.n_contacts // 400, 8), 2500))
    n_h = n - len(INTEGRATION_USERS)
    countries = rng.choice(pools.COUNTRY_CODES, size=n_h, p=b.country_weights)
    first, last, ef, el = person_names(rng, countries, b.shape.korean_latin_share())
    names = [full_name(f, l) for f, l in zip(first, last)]
    locals_ = [f"{f}.{l}" if l else f for f, l in zip(ef, el)]
    emails = unique_emails(b, locals_, [b.tenant_domain] * n_h)
    role = rng.choice(np.array(["sales_rep", "sales_manager", "marketing", "customer_success"], dtype=object),
                      size=n_h, p=[0.6, 0.15, 0.15, 0.1])
    is_active = np.ones(n_h, dtype=bool)
    n_departed = max(1, int(round(0.05 * n_h)))
    departed = rng.choice(n_h, size=n_departed, replace=False)
    is_active[departed] = False
    departed_at = np.full(n_h, NULL_TS, dtype=np.int64)
    departed_at[departed] = b.T - rng.integers(120, 700, size=n_departed) * DAY
    created = b.T - rng.integers(200, 1800, size=n_h) * DAY - rng.integers(0, DAY, size=n_h)
    created = np.where(departed_at != NULL_TS, np.minimum(created, departed_at - 90 * DAY), created)
    is_admin = np.zeros(n_h, dtype=bool)
    active_rows = np.nonzero(is_active)[0]
    n_admin = max(1, int(round(0.04 * len(active_rows))))
    admins = rng.choice(active_rows, size=n_admin, replace=False)
    is_admin[admins] = True
    role[admins] = "admin"
    # integration / API users
    int_names = [u for u, _ in INTEGRATION_USERS]
    int_emails = [f"{s}@integrations.{b.tenant_domain}" for _, s in INTEGRATION_USERS]
    k = len(INTEGRATION_USERS)
    users = Frame({
        "id": b.new_ids(n),
        "name": obj(names + int_names),
        "email": obj(emails + int_emails),
        "role": np.concatenate([role, obj(["integration"] * k)]),
        "is_active": np.concatenate([is_active, np.ones(k, dtype=bool)]),
        "is_admin": np.concatenate([is_admin, np.zeros(k, dtype=bool)]),
        "last_login_at": np.full(n, NULL_TS, dtype=np.int64),
        "created_at": np.concatenate([created, b.T - rng.integers(400, 900, size=k) * DAY]),
        "mfa_enabled": np.ones(n, dtype=bool),
        "_departed_at": np.concatenate([departed_at, np.full(k, NULL_TS, dtype=np.int64)]),
        "_ip_home": obj([f"{36 + i % 150}.{(i * 37) % 250 + 2}.{(i * 91) % 250 + 2}.{(i * 13) % 250 + 2}" for i in range(n)]),
        "_ip_mobile": obj([f"{110 + i % 60}.{(i * 53) % 250 + 2}.{(i * 29) % 250 + 2}.{(i * 7) % 250 + 2}" for i in range(n)]),
        "_ip_office": obj([f"103.28.{i % 4 + 10}.{i % 4 * 16 + 5}" for i in range(n)]),
    })
    for d in departed:
        b.last_login_override[int(users["id"][d])] = int(departed_at[d] - rng.integers(1, 48) * HOUR)
    b.frames["users"] = users


def gen_login_events(b: Build) -> None:
    """~90 days of login history: working-day logins, the odd failure, daily API logins."""
    rng = b.rng
    u = b.frames["users"]
    days = 90
    starts = b.T - np.arange(1, days + 1) * DAY  # day starts, most recent first
    wd = weekday_of(starts)
    human = np.nonzero(u["is_active"] & (u["role"] != "integration"))[0]
    prob = np.where(wd < 5, 0.85, 0.08)
    login = rng.random((len(human), days)) < prob
    login[:, int(np.nonzero(wd < 5)[0][0])] = True  # everyone logged in on the last working day
    hu, dd = np.nonzero(login)
    rows = human[hu]
    at = starts[dd] + HOUR // 2 + (rng.random(len(rows)) * 9 * HOUR).astype(np.int64)
    home = rng.random(len(rows)) < 0.15
    ip = np.where(home, u["_ip_home"][rows], u["_ip_office"][rows])
    app = np.full(len(rows), "Web", dtype=object)
    # a second, mobile login later that day for some
    mob = rng.random(len(rows)) < 0.35
    m_rows, m_at = rows[mob], at[mob] + (1 + rng.random(mob.sum()) * 6).astype(np.int64) * HOUR
    # an occasional mistyped password just before a successful login
    fail = rng.random(len(rows)) < 0.03
    f_rows, f_at, f_ip = rows[fail], at[fail] - rng.integers(20, 120, size=fail.sum()), ip[fail]
    ints = np.nonzero(u["role"] == "integration")[0]
    i_rows = np.repeat(ints, days)
    i_at = np.tile(starts, len(ints)) + 300 + rng.integers(0, 600, size=len(i_rows))
    i_ip = obj([f"34.120.{r % 200}.{40 + r % 50}" for r in i_rows.tolist()])
    user_rows = np.concatenate([rows, m_rows, f_rows, i_rows])
    b.frames["login_events"] = Frame({
        "id": np.full(len(user_rows), NULL_ID, dtype=np.int64),  # ids are given at the end
        "user_id": u["id"][user_rows],
        "at": np.concatenate([at, m_at, f_at, i_at]),
        "ip": np.concatenate([ip, u["_ip_mobile"][m_rows], f_ip, i_ip]),
        "status": obj(["success"] * (len(rows) + len(m_rows)) + ["failure"] * len(f_rows) + ["success"] * len(i_rows)),
        "application": np.concatenate([app, obj(["Mobile App"] * len(m_rows)), obj(["Web"] * len(f_rows)),
                                       obj(["API"] * len(i_rows))]),
    })


# --------------------------------------------------------------------------- companies


def gen_companies(b: Build, rng, n: int, *, countries=None, created=None, updated=None,
                  source=None, source_detail=None) -> Frame:
    if countries is None:
        countries = rng.choice(np.array(pools.COUNTRY_CODES, dtype=object), size=n, p=b.country_weights)
    countries = np.asarray(countries, dtype=object)
    bare, slugs, names = nones(n), nones(n), nones(n)
    forms = nones(n)
    for code in pools.COUNTRY_CODES:
        idx = np.nonzero(countries == code)[0]
        if not len(idx):
            continue
        c = pools.BY_CODE[code]
        culture = "EN" if c.culture in ("EN", "DE") else c.culture
        cap = pools.company_capacity(culture)
        start = b.company_cursor[culture]
        b.company_cursor[culture] += len(idx)
        perm = pools.permute(np.arange(start, start + len(idx)) % cap, cap, salt=b.seed * 104729 + 7)
        perm = perm + (np.arange(start, start + len(idx)) // cap) * cap  # beyond capacity: numbered
        pairs = [pools.company_base_name(culture, int(i)) for i in perm]
        tmpl = [t for t, _ in c.legal_forms]
        w = np.array([p for _, p in c.legal_forms])
        f = rng.choice(len(tmpl), size=len(idx), p=w / w.sum())
        bare[idx] = [p[0] for p in pairs]
        slugs[idx] = [f"{p[1]}.{c.tld}" for p in pairs]
        forms[idx] = [tmpl[i] for i in f]
        names[idx] = [tmpl[i].format(p[0]) for i, p in zip(f, pairs)]
        idn = b.shape.idn_company_share() if code == "KR" else 0.0
        if idn:  # an internationalised domain: the Hangul name itself (shape.hangul_domain)
            hangul = np.nonzero(b.rng_shape.random(len(idx)) < idn)[0]
            picks = b.rng_shape.integers(0, 1000, size=len(hangul))
            for j, pick in zip(hangul.tolist(), picks.tolist()):
                slugs[idx[j]] = hangul_domain(pairs[j][0], pick)
    city_pick = rng.integers(0, 1000, size=n)
    num = rng.integers(1, 250, size=n)
    streets, cities, states, postals, phones = [], [], [], [], []
    has_phone = rng.random(n) < 0.9
    for i, (code, cp, nm) in enumerate(zip(countries.tolist(), city_pick.tolist(), num.tolist())):
        c = pools.BY_CODE[code]
        city, state, postal, area = c.cities[cp % len(c.cities)]
        street = c.streets[(cp // 7) % len(c.streets)]
        streets.append(f"{street} No. {nm}" if code == "ID" else (f"{street} {nm}" if code in ("KR", "DE") else f"{nm} {street}"))
        cities.append(city)
        states.append(state)
        postals.append(postal)
        if has_phone[i]:
            k = b.landline_cursor[code]
            b.landline_cursor[code] += 1
            phones.append(pools.format_landline(code, area, int(pools.permute(np.array([k]), 10**6, b.seed + 3)[0])))
        else:
            phones.append(None)
    if source is None:
        source = rng.choice(np.array(["ui", "import", "integration", "api"], dtype=object), size=n, p=[0.4, 0.25, 0.25, 0.1])
        source_detail = nones(n)
        integ = source == "integration"
        source_detail[integ] = integration_detail(b, rng, int(integ.sum()), 4)
    else:
        source = np.asarray(source, dtype=object)
        source_detail = np.asarray(source_detail, dtype=object).copy()
    if created is None:
        created = sourced_created(b, rng, source, source_detail, b.T - 1800 * DAY)
    if updated is None:
        updated = b.ts(rng, np.maximum(created, b.T - 300 * DAY), b.T - 60, n)
    owners = b.clean_owner_ids()
    fr = Frame({
        "id": b.new_ids(n),
        "name": names,
        "domain": slugs.copy(),
        "industry": rng.choice(np.array(pools.INDUSTRIES, dtype=object), size=n),
        "phone": obj(phones),
        "street": obj(streets),
        "city": obj(cities),
        "state": obj(states),
        "postal_code": obj(postals),
        "country": countries.copy(),
        "owner_id": owners[rng.integers(0, len(owners), size=n)],
        "source": source,
        "source_detail": source_detail,
        "created_at": np.asarray(created, dtype=np.int64),
        "updated_at": np.asarray(updated, dtype=np.int64),
        "_bare": bare,
        "_form": forms,
        "employee_count": obj([str(int(x)) if f else None for x, f in zip(
            rng.lognormal(3.5, 1.2, size=n).astype(int) + 2, rng.random(n) < 0.65)]),
        "account_tier": np.where(rng.random(n) < 0.5, rng.choice(np.array(["Gold", "Silver", "Bronze"], dtype=object), size=n), None),
        "tax_id": obj([f"{rng.integers(10**14, 10**15)}" if (c == "ID" and f) else None
                       for c, f in zip(countries.tolist(), (rng.random(n) < 0.9).tolist())]),
    })
    return fr


# --------------------------------------------------------------------------- contacts


def gen_contacts(b: Build, rng, n: int, *, company_rows=None, created=None, source=None,
                 source_detail=None, common: bool = False) -> Frame:
    comp = b.frames["companies"]
    if company_rows is None:
        pool = b.assignable_companies
        company_rows = pool[rng.integers(0, len(pool), size=n)]
    company_rows = np.asarray(company_rows)
    countries = comp["country"][company_rows].copy()
    expat = rng.random(n) < 0.05
    countries[expat] = rng.choice(np.array(pools.COUNTRY_CODES, dtype=object), size=int(expat.sum()), p=b.country_weights)
    first, last, ef, el = person_names(rng, countries, b.shape.korean_latin_share())
    groups: list[np.ndarray] = []
    if common:
        per = max(3, n // 300)
        for code_culture, f, l in pools.COMMON_NAMES:
            cands = np.nonzero(np.array([pools.BY_CODE[c].culture for c in countries.tolist()], dtype=object) == code_culture)[0]
            if len(cands) < per:
                continue
            rows = rng.choice(cands, size=per, replace=False)
            first[rows], last[rows] = f, l
            if code_culture == "KR":
                kf = dict(pools.KR_FIRST)[f]
                kl = dict(pools.KR_LAST)[l]
                ef[rows], el[rows] = kf, kl
            else:
                ef[rows], el[rows] = pools.ascii_fold(f).lower(), pools.ascii_fold(l).lower()
            groups.append(rows)
        _separate_common_names(b, rng, groups, company_rows, countries)
    _unique_name_per_company(rng, first, last, ef, el, company_rows, countries, protected=groups,
                             initials=not b.shape.is_default)
    comp_ids = comp["id"][company_rows]
    comp_names = comp["name"][company_rows]
    comp_domains = comp["domain"][company_rows]
    free = rng.random(n) < 0.4
    fm_pick = rng.integers(0, 3, size=n)
    domains = [pools.BY_CODE[c].free_mail[k] if fr else d
               for c, k, fr, d in zip(countries.tolist(), fm_pick.tolist(), free.tolist(), comp_domains.tolist())]
    emails = obj(unique_emails(b, email_locals(rng, ef, el), domains))
    phones, nums, choice = mobile_phones(b, rng, countries)
    no_phone = rng.random(n) < 0.08
    no_email = (rng.random(n) < 0.03) & ~no_phone
    phones[no_phone] = None
    emails[no_email] = None
    cult_title = [pools.BY_CODE[c].culture for c in countries.tolist()]
    tpick = rng.integers(0, 100, size=n)
    titles = obj([pools.TITLES[c][k % len(pools.TITLES[c])] for c, k in zip(cult_title, tpick.tolist())])
    lifecycle = rng.choice(np.array(LIFECYCLE_STAGES, dtype=object), size=n, p=LIFECYCLE_WEIGHTS)
    lead = rng.choice(np.array(LEAD_STATUSES, dtype=object), size=n, p=LEAD_WEIGHTS)
    n_seg = int(np.clip(b.n_contacts // 20, 3, len(SEGMENTS)))
    base_seg = (np.arange(n) + int(rng.integers(0, n_seg))) % n_seg  # round robin: every segment is big
    extra = rng.integers(0, n_seg, size=n)
    has_extra = rng.random(n) < 0.4
    segments = obj([SEGMENTS[s] if not h or s == e else f"{SEGMENTS[s]};{SEGMENTS[e]}"
                    for s, e, h in zip(base_seg.tolist(), extra.tolist(), has_extra.tolist())])
    owners = comp["owner_id"][company_rows].copy()
    clean_owners = b.clean_owner_ids()
    other = rng.random(n) < 0.3
    owners[other] = clean_owners[rng.integers(0, len(clean_owners), size=int(other.sum()))]
    city_pick = rng.integers(0, 1000, size=n)
    num = rng.integers(1, 300, size=n)
    streets, cities, states, postals = [], [], [], []
    for code, cp, nm in zip(countries.tolist(), city_pick.tolist(), num.tolist()):
        c = pools.BY_CODE[code]
        city, state, postal, _ = c.cities[cp % len(c.cities)]
        street = c.streets[(cp // 5) % len(c.streets)]
        streets.append(f"{street} No. {nm}" if code == "ID" else (f"{street} {nm}" if code in ("KR", "DE") else f"{nm} {street}"))
        cities.append(city)
        states.append(state)
        postals.append(postal)
    if source is None:
        source = rng.choice(np.array(["ui", "import", "form", "api", "integration"], dtype=object), size=n,
                            p=[0.3, 0.2, 0.15, 0.05, 0.3])
        source_detail = nones(n)
        source_detail[source == "form"] = rng.choice(np.array(["Website contact form", "Event registration form"], dtype=object),
                                                     size=int((source == "form").sum()))
        integ = source == "integration"
        source_detail[integ] = integration_detail(b, rng, int(integ.sum()), 3)
    else:
        source = np.asarray(source, dtype=object)
        source_detail = np.asarray(source_detail, dtype=object).copy()
    if created is None:
        created = sourced_created(b, rng, source, source_detail, b.T - 1500 * DAY)
    created = np.asarray(created, dtype=np.int64)
    updated = b.ts(rng, np.maximum(created, b.T - 300 * DAY), b.T - 60, n)
    lang = {"ID": "id", "KR": "ko", "EN": "en", "DE": "de"}
    fr = Frame({
        "id": b.new_ids(n),
        "first_name": first,
        "last_name": last,
        "email": emails,
        "phone": phones,
        "title": titles,
        "company_id": comp_ids,
        "company_name": comp_names.copy(),
        "lifecycle_stage": lifecycle,
        "lead_status": lead,
        "segments": segments,
        "owner_id": owners,
        "street": obj(streets),
        "city": obj(cities),
        "state": obj(states),
        "postal_code": obj(postals),
        "country": countries,
        "source": source,
        "source_detail": source_detail,
        "email_bounced": np.zeros(n, dtype=bool),
        "created_at": created,
        "updated_at": updated,
        "last_activity_at": np.full(n, NULL_TS, dtype=np.int64),
        "_phone_num": nums,
        "_phone_choice": choice,
        "_company_row": company_rows.astype(np.int64),
        "preferred_language": np.where(rng.random(n) < 0.7, obj([lang[c] for c in cult_title]), None),
        "nps_score": np.where(rng.random(n) < 0.3, obj([str(x) for x in rng.integers(0, 11, size=n)]), None),
        "linkedin_url": np.where(rng.random(n) < 0.25,
                                 obj([f"https://www.linkedin.com/in/{f}-{l or 'x'}-{k}" for f, l, k in
                                      zip(ef.tolist(), el.tolist(), rng.integers(1000, 99999, size=n).tolist())]), None),
    })
    if common:
        b._common_rows = groups
    return fr


def _separate_common_names(b, rng, groups, company_rows, countries) -> None:
    """People sharing a common name work at different companies."""
    comp = b.frames["companies"]
    for rows in groups:
        seen = set()
        for r in rows:
            c = int(company_rows[r])
            tries = 0
            while c in seen and tries < 50:
                c = int(b.assignable_companies[rng.integers(0, len(b.assignable_companies))])
                tries += 1
            seen.add(c)
            company_rows[r] = c
            countries[r] = comp["country"][c]


def _initial(name) -> str:
    return pools.ascii_fold(name)[:1].lower() if name else ""


def _unique_name_per_company(rng, first, last, ef, el, company_rows, countries, protected, *,
                             initials: bool = False) -> None:
    """No two clean contacts with the same full name at the same company.

    ``initials``: not even the same initials (a stricter key, for shapes with many
    contacts a company, where 'Teguh Sutanto' and 'Teguh Susanto' at one company would
    otherwise look like one person typed twice).
    """
    def key_of(f, l, company):
        return (_initial(f), _initial(l), company) if initials else (f, l, company)

    keep = set()
    for g in protected:
        keep.update(int(x) for x in g)
    seen = set()
    for r in range(len(first)):
        key = key_of(first[r], last[r], int(company_rows[r]))
        if key not in seen:
            seen.add(key)
            continue
        for _ in range(100):
            f2, l2, e2, el2 = person_names(rng, countries[r:r + 1])
            key = key_of(f2[0], l2[0], int(company_rows[r]))
            if key not in seen:
                first[r], last[r], ef[r], el[r] = f2[0], l2[0], e2[0], el2[0]
                seen.add(key)
                break
