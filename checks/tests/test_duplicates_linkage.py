"""The Fellegi-Sunter duplicate matching (issue 17): missing columns, identifiers, Hangul and
romanised names, single names, tiny tenants, explanations and merge plans."""

from datetime import datetime, timezone
from itertools import combinations

import numpy as np
import pytest

from crm_audit_core import model
from crm_audit_core.testing import without

from crm_audit_checks import duplicates
from crm_audit_checks.linkage import fs, names, records

from crm_audit_core.testing import RowsTenant  # noqa: E402

CHECKS = {c.id: c for c in duplicates.CHECKS}
CONTACTS = CHECKS["data.duplicate-contacts"]


Tenant = RowsTenant  # hand-written rows; non-canonical columns become custom fields


def pairs(groups):
    return {frozenset(p) for g in groups for p in combinations(g, 2)}


def quality(found, truth):
    got, want = pairs(found), pairs(truth)
    tp = len(got & want)
    precision = tp / len(got) if got else 0.0
    recall = tp / len(want) if want else 0.0
    return precision, recall


# ----------------------------------------------------------------------- whatever fields exist


@pytest.fixture(scope="module")
def generated(crm_audit_tenant):
    return crm_audit_tenant(contacts=1500, seed=2)


def _no_namesakes_clustered(result, tenant):
    for people in tenant.manifest["common_names"]["contacts"]:
        for group in result.groups:
            assert len(set(people) & set(group)) <= 1, f"namesakes {sorted(set(people) & set(group))} clustered"


def test_contacts_without_email_still_run(generated, crm_audit_run_check):
    result = crm_audit_run_check(CONTACTS, without(generated, "contacts", "email"))
    assert result.status == "fail"
    compared = result.metrics["evidence_used"]["compared"]
    assert "e-mail" not in compared and "phone" in compared
    assert "compared on" in result.message and "e-mail" not in result.message
    precision, recall = quality(result.groups, generated.manifest["duplicates"]["contacts"])
    assert recall >= 0.95 and precision >= 0.95
    _no_namesakes_clustered(result, generated)


def test_contacts_without_phone_still_run(generated, crm_audit_run_check):
    result = crm_audit_run_check(CONTACTS, without(generated, "contacts", "phone"))
    assert "phone" not in result.metrics["evidence_used"]["compared"]
    precision, recall = quality(result.groups, generated.manifest["duplicates"]["contacts"])
    assert recall >= 0.95 and precision >= 0.95
    _no_namesakes_clustered(result, generated)


def _people(n, **extra):
    given = ["Adi", "Bima", "Citra", "Dewi", "Eka", "Fajar", "Gita", "Hadi", "Indra", "Joko", "Kartika", "Lestari",
             "Mira", "Nanda", "Oki", "Putri", "Rudi", "Sari", "Tono", "Wulan"]
    family = ["Santoso", "Wijaya", "Halim", "Pratama", "Saputra", "Nugroho", "Siregar", "Lubis", "Hakim", "Kusuma",
              "Gunawan", "Setiawan", "Hidayat", "Harahap", "Tanjung", "Purba", "Sinaga", "Wibowo", "Susanto",
              "Rahman", "Salim", "Hasibuan", "Nasution", "Manurung", "Simanjuntak"]
    return [{"id": str(1000 + i), "first_name": given[i % len(given)], "last_name": family[(i * 7) % len(family)],
             **{k: v(i) for k, v in extra.items()}} for i in range(n)]


def test_only_names_and_postcodes(crm_audit_run_check):
    people = _people(60, postal_code=lambda i: f"{10110 + 37 * i}")
    dups = [
        {"id": "1", "first_name": "Adi", "last_name": people[0]["last_name"], "postal_code": people[0]["postal_code"]},
        {"id": "2", "first_name": people[5]["first_name"], "last_name": people[5]["last_name"] + "h",  # one typo
         "postal_code": people[5]["postal_code"]},
        {"id": "3", "first_name": people[9]["last_name"], "last_name": people[9]["first_name"],  # swapped
         "postal_code": people[9]["postal_code"]},
        # the same name in another postcode: a namesake, not a match
        {"id": "4", "first_name": people[12]["first_name"], "last_name": people[12]["last_name"], "postal_code": "99999"},
    ]
    result = crm_audit_run_check(CONTACTS, Tenant(contacts=people + dups))
    assert result.metrics["evidence_used"]["compared"] == ["given name", "family name", "postal code and city"]
    assert sorted(sorted(g) for g in result.groups) == sorted([["1", "1000"], ["1005", "2"], ["1009", "3"]])
    assert result.metrics["model"]["trained"] == "priors"


# ----------------------------------------------------------------------- identifiers


def _id_tenant():
    people = _people(60, postal_code=lambda i: f"{20110 + 41 * i}", cf_tax_id=lambda i: f"31.{7000 + i}.55")
    p = {r["id"]: r for r in people}
    extra = [
        # same name and postcode, same tax id written differently: one person
        {"id": "1", "first_name": p["1003"]["first_name"], "last_name": p["1003"]["last_name"],
         "postal_code": p["1003"]["postal_code"], "cf_tax_id": "317003 55"},
        # same name and postcode but another tax id: the identifier contradicts
        {"id": "2", "first_name": p["1004"]["first_name"], "last_name": p["1004"]["last_name"],
         "postal_code": p["1004"]["postal_code"], "cf_tax_id": "31.9999.12"},
        # same name and tax id, another postcode (moved): one person, by the identifier
        {"id": "3", "first_name": p["1006"]["first_name"], "last_name": p["1006"]["last_name"],
         "postal_code": "98765", "cf_tax_id": p["1006"]["cf_tax_id"]},
    ]
    return Tenant(contacts=people + extra)


def test_identifiers_that_agree_or_contradict(crm_audit_run_check):
    tenant = _id_tenant()
    plain = crm_audit_run_check(CONTACTS, tenant)
    assert sorted(sorted(g) for g in plain.groups) == [["1", "1003"], ["1004", "2"]]  # name + postcode only
    named = crm_audit_run_check(CONTACTS, tenant, settings={"identifiers": ["cf_tax_id"]})
    assert sorted(sorted(g) for g in named.groups) == [["1", "1003"], ["1006", "3"]]
    assert named.metrics["evidence_used"]["identifiers"] == ["cf_tax_id"]
    weights = named.metrics["model"]["comparisons"]["id:cf_tax_id"]
    assert weights["different"]["bits"] < -5 < 5 < weights["identical"]["bits"]
    moved = next(p for p in named.metrics["pairs"] if {p["a"], p["b"]} == {"1006", "3"})
    fields = {f["field"]: f for f in moved["fields"]}
    assert fields["cf_tax_id"]["level"] == "identical" and fields["cf_tax_id"]["bits"] > 0
    assert fields["postal code and city"]["bits"] < 0  # disagreeing evidence shown with its weight
    assert named.metrics["evidence"] == {"id:cf_tax_id": 2}


def test_identifiers_missing_from_the_tenant_are_named(crm_audit_run_check):
    result = crm_audit_run_check(CONTACTS, _id_tenant(), settings={"identifiers": ["cf_nik"]})
    assert result.metrics["evidence_used"]["identifiers_missing"] == ["cf_nik"]
    assert "identifiers not in this tenant: cf_nik" in result.message


def test_company_identifiers(crm_audit_run_check):
    companies = [{"id": str(500 + i), "name": f"PT Sinar {w} Abadi", "cf_npwp": f"01.{300 + i}.7"}
                 for i, w in enumerate(["Maju", "Jaya", "Baru", "Terang", "Mulia", "Sentosa", "Makmur", "Lestari"])]
    companies += [{"id": "1", "name": "Sinar Maju Abadi Tbk", "cf_npwp": "01.300.7"},
                  {"id": "2", "name": "PT SINAR JAYA ABADI", "cf_npwp": "09.999.9"}]
    result = crm_audit_run_check(CHECKS["data.duplicate-companies"], Tenant(companies=companies),
                                 settings={"identifiers": ["cf_npwp"]})
    assert result.groups == [["1", "500"]]


# ----------------------------------------------------------------------- Hangul, romanised, single names


@pytest.mark.parametrize("a, b", [
    (("김민준", None), ("Minjun", "Kim")),
    (("민준", "김"), ("Min-jun", "Kim")),
    (("민준", "김"), ("Kim", "Min-jun")),  # family name first, in the first-name field
    (("서연", "이"), ("Seo-yeon", "Lee")),
    (("지훈", "박"), ("Jihoon", "Park")),
])
def test_hangul_and_romanised_names_agree(a, b):
    given, family, _swapped = names.compare_names(names.person_name(*a), names.person_name(*b))
    assert family == 3 and given >= 2


@pytest.mark.parametrize("a, b", [
    (("민준", "김"), ("Minjun", "Park")),  # another family
    (("민준", "김"), ("Seoyeon", "Kim")),  # another person of the same family
    (("민준", "이"), ("민준", "임")),  # one-syllable family names one letter apart
])
def test_different_korean_names_disagree(a, b):
    given, family, _swapped = names.compare_names(names.person_name(*a), names.person_name(*b))
    assert min(given, family) <= 0


def test_hangul_romanised_and_single_names_cluster(crm_audit_run_check):
    contacts = _people(40, phone=lambda i: f"+62 812 {5550000 + i * 13:07d}", country=lambda i: "ID")
    contacts += [
        {"id": "1", "first_name": "김민준", "phone": "010-2222-3333", "country": "KR"},
        {"id": "2", "first_name": "Minjun", "last_name": "Kim", "phone": "+82 10-2222-3333", "country": "KR"},
        {"id": "3", "first_name": "서연", "last_name": "이", "email": "seoyeon@hanbit.co.kr", "country": "KR"},
        {"id": "4", "first_name": "Seo-yeon", "last_name": "Lee", "email": "SeoYeon@hanbit.co.kr", "country": "KR"},
        {"id": "5", "first_name": "민준", "last_name": "박", "phone": "010-9876-5432", "country": "KR"},  # another man
        # Indonesian single names, in either field
        {"id": "6", "first_name": "Sukarno", "phone": "0811-777-1234", "country": "ID"},
        {"id": "7", "last_name": "Sukarno", "phone": "+62 811 777 1234", "country": "ID"},
        {"id": "8", "first_name": "Sukarno", "last_name": "Putra", "phone": "+62 811-777-1234", "country": "ID"},
    ]
    result = crm_audit_run_check(CONTACTS, Tenant(contacts=contacts))
    assert sorted(sorted(g) for g in result.groups) == [["1", "2"], ["3", "4"], ["6", "7", "8"]]


def test_blocking_tokens_carry_the_romanisation():
    assert "kim" in names.blocking_tokens("김").split()
    assert set(names.blocking_tokens("김민준").split()) >= {"민준", "kim", "minjun"}
    assert "minjun" in names.blocking_tokens("Min-jun").split()


# ----------------------------------------------------------------------- tiny tenants, EM


def test_a_tenant_of_50_records_uses_the_documented_priors(crm_audit_run_check):
    people = _people(46, email=lambda i: f"user{i}@example.co.id")
    dups = [{"id": "1", "first_name": people[2]["first_name"].upper(), "last_name": people[2]["last_name"],
             "email": "User2@Example.co.id"},
            {"id": "2", "first_name": people[7]["first_name"], "last_name": people[7]["last_name"],
             "email": people[7]["email"]},
            {"id": "3", "first_name": people[7]["first_name"], "last_name": people[7]["last_name"] + "o",
             "email": people[7]["email"]},
            {"id": "4", "first_name": "Someone", "last_name": "Else", "email": "user30@example.co.id"}]  # shared mailbox
    result = crm_audit_run_check(CONTACTS, Tenant(contacts=people + dups))
    assert result.status == "fail"
    assert sorted(sorted(g) for g in result.groups) == [["1", "1002"], ["1007", "2", "3"]]
    described = result.metrics["model"]
    assert described["trained"] == "priors"
    assert "too few to learn" in described["note"] and "prior" in described["note"]


def test_em_recovers_known_parameters():
    rng = np.random.default_rng(5)
    comparisons = [fs.Comparison(f"c{j}", f"c{j}", ("different", "identical"), (0.2, 0.8), (0.95, 0.05))
                   for j in range(4)]
    true_m, true_u, share, n = [0.1, 0.9], [0.97, 0.03], 0.3, 20_000
    match = rng.random(n) < share
    gammas = np.where(match[:, None], rng.random((n, 4)) < true_m[1], rng.random((n, 4)) < true_u[1]).astype(np.int64)
    random_gammas = (rng.random((50_000, 4)) < true_u[1]).astype(np.int64)
    fitted = fs.train(comparisons, gammas, random_gammas, records=100_000)
    assert fitted.trained == "em"
    for m in fitted.m:
        assert abs(m[1] - true_m[1]) < 0.03
    assert abs(fitted.blocked_match_share - share) < 0.03


def test_em_falls_back_to_priors_on_tiny_data():
    comparisons = [records.EMAIL, records.PHONE]
    fitted = fs.train(comparisons, np.array([[1, 1], [0, 1]]), np.array([[0, 0]]), records=12)
    assert fitted.trained == "priors" and "prior" in fitted.note
    assert [list(m) for m in fitted.m] == [list(c.prior_m) for c in comparisons]


# ----------------------------------------------------------------------- explanations, merge plans


def _merge_tenant():
    contacts = _people(30, email=lambda i: f"p{i}@example.com")
    contacts[4].update(created_at=datetime(2025, 6, 1), updated_at=datetime(2026, 3, 1), title=None)
    contacts += [
        {"id": "1", "first_name": contacts[4]["first_name"], "last_name": contacts[4]["last_name"],
         "email": "P4@example.com", "title": "CFO", "phone": "+62 811 1234 567", "country": "ID",
         "created_at": datetime(2024, 1, 1), "updated_at": datetime(2026, 1, 1)},
    ]
    activities = [{"id": f"a{i}", "type": "call", "contact_id": "1004"} for i in range(3)]
    return Tenant(contacts=contacts, activities=activities)


def test_each_group_is_explained_with_a_merge_plan(crm_audit_run_check):
    result = crm_audit_run_check(CONTACTS, _merge_tenant())
    assert result.groups == [["1", "1004"]]
    keep = result.details["1"]
    assert keep.startswith("keep this record (most complete")
    assert "carry over" not in keep or "from 1004" in keep
    assert "match probability" in keep and "e-mail identical (+" in keep
    pair = result.metrics["pairs"][0]
    assert pair["probability"] >= 0.9 and {f["field"] for f in pair["fields"]} >= {"e-mail", "given name"}
    assert "merge_plan" not in result.metrics  # in the attachment (fixlists/merge-plan-contacts.csv) only
    [plan] = result.attachments
    assert plan.name == "merge-plan-contacts" and plan.object == "contacts" and plan.id_column == "id"
    rows = [dict(zip(plan.columns, row)) for row in plan.rows]
    assert [(r["group"], r["action"], r["id"], r["keep_id"], r["keep_rule"], r["carry_over"]) for r in rows] == [
        (1, "keep", "1", "1", "most complete", ""), (1, "merge", "1004", "1", "most complete", "")]
    assert rows[1]["probability"] == round(pair["probability"], 4) and rows[1]["matched_with"] == "1"
    assert rows[1]["salesforce_call"] == 1


@pytest.mark.parametrize("rule, keeper", [("oldest", "1"), ("most activity", "1004")])
def test_keep_rule_is_configurable(crm_audit_run_check, rule, keeper):
    result = crm_audit_run_check(CONTACTS, _merge_tenant(), settings={"keep": rule})
    assert result.details[keeper].startswith(f"keep this record ({rule}")
    other = "1004" if keeper == "1" else "1"
    [plan] = result.attachments
    merged = [dict(zip(plan.columns, row)) for row in plan.rows if row[1] == "merge"]
    assert [(r["id"], r["keep_id"]) for r in merged] == [(other, keeper)]
    if keeper == "1004":  # the keeper lacks the title and the phone: carried over from 1
        assert merged[0]["carry_over"] == "country=ID; phone=+62 811 1234 567; title=CFO"


def test_an_unknown_keep_rule_is_one_clear_error(crm_audit_run_check):
    result = crm_audit_run_check(CONTACTS, _merge_tenant(), settings={"keep": "newest"})
    assert result.status == "error"
    assert "keep" in result.reason and "most complete" in result.reason


def test_custom_columns_are_not_canonical():
    # The identifiers of these tests are custom fields: they live in custom_values, not in contacts.
    assert "cf_tax_id" not in model.TABLES["contacts"].column_names


# ----------------------------------------------------------------------- blocking on the street


def _building(n: int = 40) -> list[dict]:
    """``n`` people of different companies at one address, each with an e-mail and phone of their own."""
    return [dict(p, street="Jl. Jend. Sudirman No. 70", city="Jakarta", email=f"p{p['id']}@mail{i}.example",
                 phone=f"+62 812-{5000 + i:04d}-{1000 + i:04d}", company_name=f"PT Usaha {i}")
            for i, p in enumerate(_people(n))]


def test_one_person_with_other_contact_details_meets_through_the_street(crm_audit_run_check):
    # The same person written twice: another e-mail, another phone, no company; only the
    # street and the name tie the records, through the street key on two name words.
    people = _building()
    me = people[3]
    again = {"id": "1", "first_name": me["first_name"], "last_name": me["last_name"] + "h",
             "street": me["street"], "city": me["city"], "email": "private@example.net", "phone": "+62 877-1111-2222"}
    result = crm_audit_run_check(CONTACTS, Tenant(contacts=people + [again]))
    assert ["1", me["id"]] in [sorted(g) for g in result.groups]


def test_a_building_of_namesakes_by_first_letters_is_not_compared_pair_by_pair(crm_audit_run_check):
    # 40 people at one address whose names share first letters by the pool's design (Adi /
    # Agus, Santoso / Saputra): with one name word's prefix the street key paired most of
    # them; with two words' prefixes only those whose given and family names both start
    # alike meet, and nobody is clustered.
    result = crm_audit_run_check(CONTACTS, Tenant(contacts=_building()))
    assert result.groups == []
    assert result.metrics["candidate_pairs"] < 40
