"""integrations.sync-count-mismatch and integrations.campaign-count-sanity with the other side's
counts: a generated tenant written as canonical files, plus a sync_counts.csv as an integration
probe would leave it, audited through the files connector."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime, timezone

import pytest

from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.testing import assert_findings

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)
SIZE = dict(contacts=800, seed=11)
MISMATCH, CAMPAIGNS = "integrations.sync-count-mismatch", "integrations.campaign-count-sanity"
COLUMNS = ("id", "probe", "integration", "object", "key", "measure", "value", "source", "missing", "observed_at")
FAILED = "probe mailchimp (tenant acme): 401 from Mailchimp: the API key is not valid (check api_key)"


@pytest.fixture(scope="module")
def tenants(crm_audit_tenant):
    return {"dirty": crm_audit_tenant(**SIZE, name="acme"), "clean": crm_audit_tenant(**SIZE, name="acme", defects=False)}


@pytest.fixture(scope="module")
def folders(tenants, tmp_path_factory):
    out = {}
    for kind, tenant in tenants.items():
        path = tmp_path_factory.mktemp(kind)
        tenant.write(path)
        out[kind] = path
    return out


def audit(folder, tmp_path, counts=None, drop=(), drop_columns=None, empty=()):
    """Audit a copy of ``folder`` with ``counts`` as sync_counts.csv (``drop``: tables left out,
    ``empty``: tables left with their header only); returns {check id: result}."""
    work = tmp_path / "tenant"
    shutil.copytree(folder, work)
    for name in drop:
        (work / f"{name}.csv").unlink()
    for name in empty:
        path = work / f"{name}.csv"
        path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    for table, columns in (drop_columns or {}).items():
        with open(work / f"{table}.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        keep = [c for c in rows[0] if c not in columns]
        with open(work / f"{table}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, keep, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    if counts is not None:
        with open(work / "sync_counts.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, COLUMNS)
            w.writeheader()
            for i, row in enumerate(counts):
                w.writerow({"id": str(i + 1), "observed_at": "2026-12-31T00:00:00Z", **row})
    config = AuditConfig(as_of=AS_OF, out=tmp_path / "audits")
    config.tenants.append(TenantConfig("acme", "files", {"path": str(work)}))
    result, _ = run_audit(config, registry=build_plugin_manager(), progress=False,
                          check_patterns=(MISMATCH, CAMPAIGNS))
    return {r.check_id: r for r in result.results}


def count(integration, obj, value, measure="records", key="", probe="mailchimp", source=None, missing=""):
    return {"probe": probe, "integration": integration, "object": obj, "key": key, "measure": measure,
            "value": "" if value is None else str(value), "missing": missing,
            "source": source if source is not None else f"{integration} audience 'Newsletter' (GET /3.0/lists/{{list_id}})"}


def held(tenant, name, table):
    return sum(1 for r in tenant.rows(table) if (r["source_detail"] or "").strip().lower() == name.lower())


def integration_id(tenant, name):
    return next(i["id"] for i in tenant.rows("integrations") if i["name"] == name)


# --------------------------------------------------------------------------- sync-count-mismatch


def test_planted_ids_through_the_files_connector(tenants, folders, tmp_path):
    for kind in ("dirty", "clean"):
        results = audit(folders[kind], tmp_path / kind)
        for cid in (MISMATCH, CAMPAIGNS):
            assert_findings(results[cid], tenants[kind].manifest["defects"][cid]["ids"])


def test_mismatch_per_integration_and_object(tenants, folders, tmp_path):
    tenant = tenants["clean"]
    zapier_contacts, zapier_companies = held(tenant, "Zapier", "contacts"), held(tenant, "Zapier", "companies")
    assert zapier_contacts > 20 and zapier_companies > 5
    counts = [count("zapier ", "contacts", zapier_contacts + 1, probe="zapier", source="Zapier task history"),
              count("Zapier", "companies", zapier_companies * 2 + 10, probe="zapier", source="Zapier task history")]
    result = audit(folders["clean"], tmp_path, counts, drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    zapier = integration_id(tenant, "Zapier")
    assert_findings(result, [zapier])
    detail = result.details[zapier]
    # only the object that differs is named, with both counts and where each came from
    assert "companies" in detail and "Zapier contacts" not in detail
    assert f"the CRM holds {zapier_companies:,} (CRM: companies whose source_detail is 'Zapier')" in detail
    assert f"Zapier task history reports {zapier_companies * 2 + 10:,}" in detail
    by_object = result.metrics["by_object"]["Zapier"]
    assert by_object["contacts"] == {"reported": zapier_contacts + 1, "in_crm": zapier_contacts,
                                     "source": "Zapier task history",
                                     "crm_source": "CRM: contacts whose source_detail is 'Zapier'"}
    assert result.reason is None and "1 of 1 integration hold" in result.message


def test_probe_counts_within_tolerance_pass(tenants, folders, tmp_path):
    tenant = tenants["clean"]
    n = held(tenant, "Mailchimp", "contacts")
    result = audit(folders["clean"], tmp_path, [count("MAILCHIMP", "contacts", round(n * 1.04))],
                   drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    assert_findings(result, [])
    assert result.affected.population == 1


def test_missing_counts_are_named_in_the_reason(tenants, folders, tmp_path):
    tenant = tenants["clean"]
    n = held(tenant, "Typeform", "contacts")
    counts = [count("Mailchimp", "contacts", None, missing=FAILED, source=""),
              count("Typeform", "contacts", n * 3, probe="typeform", source="Typeform responses (GET /forms/{id}/responses)")]
    result = audit(folders["clean"], tmp_path, counts, drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    assert_findings(result, [integration_id(tenant, "Typeform")])
    assert result.reason == f"counts missing: mailchimp contacts records ({FAILED})"
    assert result.metrics["missing"] == [f"mailchimp contacts records ({FAILED})"]
    assert "1 count could not be read" in result.message


def test_only_missing_counts_skip_naming_them(folders, tmp_path):
    counts = [count("Mailchimp", "contacts", None, missing=FAILED, source="")]
    result = audit(folders["dirty"], tmp_path, counts, drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    assert result.status == "skipped"
    assert result.reason == f"counts missing: mailchimp contacts records ({FAILED})"


def test_a_value_read_later_wins_over_a_missing_one(tenants, folders, tmp_path):
    tenant = tenants["clean"]
    n = held(tenant, "Mailchimp", "contacts")
    counts = [count("Mailchimp", "contacts", None, missing=FAILED, source=""), count("Mailchimp", "contacts", n)]
    result = audit(folders["clean"], tmp_path, counts, drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    assert_findings(result, [])
    assert result.reason is None


def test_an_integration_the_crm_does_not_list_is_reported_not_dropped(folders, tmp_path):
    counts = [count("Xero", "companies", 120, probe="xero", source="Xero contacts (GET /api.xro/2.0/Contacts)")]
    result = audit(folders["clean"], tmp_path, counts, drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    assert result.status == "fail" and result.affected.ids == []
    assert "Xero" in result.message and "does not list" in result.message
    assert result.metrics["unknown_integrations"]["Xero"]["companies"]["reported"] == 120
    assert result.metrics["unknown_integrations"]["Xero"]["companies"]["in_crm"] == 0


def test_objects_the_crm_cannot_count_are_named(folders, tmp_path):
    counts = [count("Mailchimp", "campaigns", 14)]
    result = audit(folders["clean"], tmp_path, counts, drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    assert result.status == "skipped" and "not compared: Mailchimp campaigns" in result.reason


def test_records_reported_path_still_runs_next_to_probe_counts(tenants, folders, tmp_path):
    tenant = tenants["dirty"]
    n = held(tenant, "Zapier", "contacts")
    result = audit(folders["dirty"], tmp_path, [count("Zapier", "contacts", n * 2 + 5, probe="zapier")])[MISMATCH]
    planted = tenant.manifest["defects"][MISMATCH]["ids"]
    assert_findings(result, sorted({*planted, integration_id(tenant, "Zapier")}))
    assert "integrations.records_reported" in result.details[planted[0]]


# --------------------------------------------------------------------------- campaign-count-sanity


def campaign(tenant, kind="email"):
    """A clean campaign of the tenant (no impossible counts)."""
    return next(c for c in tenant.rows("campaigns") if c["type"] == kind and c["responses"] <= c["sent"]
                and c["opened"] <= c["delivered"] <= c["sent"])


def test_the_sending_tools_impossible_counts(tenants, folders, tmp_path):
    tenant = tenants["clean"]
    c = campaign(tenant)
    counts = [count("Mailchimp", "campaigns", c["sent"], measure="sent", key=c["name"].upper(), source="Mailchimp reports"),
              count("Mailchimp", "campaigns", c["sent"] + 7, measure="delivered", key=c["name"], source="Mailchimp reports")]
    result = audit(folders["clean"], tmp_path, counts)[CAMPAIGNS]
    assert_findings(result, [c["id"]])
    assert f"Mailchimp has {c['sent'] + 7:,} delivered > {c['sent']:,} sent (Mailchimp reports)" in result.details[c["id"]]
    assert result.metrics["rule_violations"]["tool_delivered_gt_sent"] == 1
    assert result.metrics["tool_campaigns_in_crm"] == 1


def test_crm_responses_above_the_tools_and_sent_beyond_tolerance(tenants, folders, tmp_path):
    tenant = tenants["clean"]
    survey, email = campaign(tenant, "survey"), campaign(tenant, "email")
    assert survey["responses"] > 1
    counts = [count("Mailchimp", "campaigns", survey["responses"] - 1, measure="responses", key=survey["name"]),
              count("Mailchimp", "campaigns", round(email["sent"] * 1.2), measure="sent", key=email["name"]),
              count("Mailchimp", "campaigns", round(survey["sent"] * 1.03), measure="sent", key=survey["name"])]
    result = audit(folders["clean"], tmp_path, counts)[CAMPAIGNS]
    assert_findings(result, [survey["id"], email["id"]])
    assert f"the CRM records {survey['responses']:,} responses, Mailchimp {survey['responses'] - 1:,}" in result.details[survey["id"]]
    assert "sent" not in result.details[survey["id"]].split("responses, Mailchimp")[1]  # 3% is within tolerance
    assert f"the CRM says {email['sent']:,} sent, Mailchimp {round(email['sent'] * 1.2):,}" in result.details[email["id"]]


def test_campaigns_sharing_a_title_in_the_sending_tool_are_all_counted(tenants, folders, tmp_path):
    """Two campaigns of one title in the sending tool (told apart by their source, which names
    the campaign): neither is dropped. Summed, they agree with the CRM's campaign of that
    title (the code before kept one of them and flagged the CRM's responses as too many)."""
    tenant = tenants["clean"]
    c = next(c for c in tenant.rows("campaigns") if c["type"] == "email" and c["responses"] >= 2 and c["sent"] > 20
             and c["responses"] <= c["sent"] and sum(1 for o in tenant.rows("campaigns") if o["name"] == c["name"]) == 1)
    one, two = (f"Mailchimp campaign report '{c['name']}' (GET /3.0/reports, campaign {x})" for x in ("a1", "b2"))
    counts = [count("Mailchimp", "campaigns", c["sent"] - 10, measure="sent", key=c["name"], source=one),
              count("Mailchimp", "campaigns", c["responses"] - 1, measure="responses", key=c["name"], source=one),
              count("Mailchimp", "campaigns", 10, measure="sent", key=c["name"], source=two),
              count("Mailchimp", "campaigns", 1, measure="responses", key=c["name"], source=two)]
    result = audit(folders["clean"], tmp_path / "same", counts)[CAMPAIGNS]
    assert c["id"] not in result.affected.ids
    assert result.metrics["rule_violations"]["crm_responses_gt_tool_responses"] == 0
    assert result.metrics["tool_campaigns"] == 1 and result.metrics["tool_campaigns_in_crm"] == 1
    # the second campaign sends as much again, and its own counts cannot be true
    counts = [count("Mailchimp", "campaigns", c["sent"], measure="sent", key=c["name"], source=one),
              count("Mailchimp", "campaigns", c["sent"], measure="sent", key=c["name"], source=two),
              count("Mailchimp", "campaigns", c["sent"] + 5, measure="delivered", key=c["name"], source=two)]
    result = audit(folders["clean"], tmp_path / "more", counts)[CAMPAIGNS]
    assert c["id"] in result.affected.ids
    detail = result.details[c["id"]]
    assert f"Mailchimp has {c['sent'] + 5:,} delivered > {c['sent']:,} sent ({two})" in detail
    assert (f"the CRM says {c['sent']:,} sent on its 1 campaign named {c['name']}, Mailchimp {2 * c['sent']:,} on all "
            f"its campaigns of that name ({one}; {two})") in detail
    assert result.metrics["rule_violations"]["sent_differs_from_tool"] == 1


def test_campaigns_sharing_a_title_in_the_crm_are_compared_summed(tenants, folders, tmp_path):
    """Two CRM campaigns of one title and one in the sending tool: which is which cannot be
    told, so the CRM's two are summed; both are named when the sums disagree."""
    tenant = tenants["clean"]
    work = tmp_path / "twins"
    shutil.copytree(folders["clean"], work)
    with open(work / "campaigns.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    first, second = [r for r in rows if r["type"] == "email"][:2]
    second["name"] = first["name"]
    with open(work / "campaigns.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    both = int(first["sent"]) + int(second["sent"])
    same = audit(work, tmp_path / "a", [count("Mailchimp", "campaigns", both, measure="sent", key=first["name"])])
    assert not {first["id"], second["id"]} & set(same[CAMPAIGNS].affected.ids)
    off = audit(work, tmp_path / "b", [count("Mailchimp", "campaigns", int(first["sent"]), measure="sent",
                                             key=first["name"])])[CAMPAIGNS]
    assert {first["id"], second["id"]} <= set(off.affected.ids)
    assert f"the CRM says {both:,} sent over its 2 campaigns named {first['name']}" in off.details[second["id"]]


def test_tool_campaigns_the_crm_does_not_hold(folders, tmp_path):
    counts = [count("Mailchimp", "campaigns", 100, measure="recipients", key="Only in Mailchimp"),
              count("Mailchimp", "campaigns", 130, measure="responses", key="Only in Mailchimp")]
    result = audit(folders["clean"], tmp_path, counts)[CAMPAIGNS]
    assert result.status == "fail" and result.affected.ids == []
    assert "Mailchimp: 'Only in Mailchimp'" in result.message
    assert result.metrics["tool_campaigns_not_in_crm"]["Mailchimp: 'Only in Mailchimp'"] == [
        "Mailchimp has 130 responses > 100 recipients (Mailchimp audience 'Newsletter' (GET /3.0/lists/{list_id}))"]


def test_tenant_without_delivered_and_opened(tenants, folders, tmp_path):
    """Salesforce-like: campaigns without delivered/opened: the rules on sent and responses still run."""
    tenant = tenants["dirty"]
    results = audit(folders["dirty"], tmp_path, drop_columns={"campaigns": ["delivered", "opened"]})
    result = results[CAMPAIGNS]
    want = [c["id"] for c in tenant.rows("campaigns") if c["responses"] > c["sent"]]
    assert want
    assert_findings(result, want)
    # lists read as the language writes them ("a and b"; i18n)
    assert "rules not evaluated: delivered > sent in the CRM (campaigns.delivered not supplied); opened > " \
           "delivered in the CRM (campaigns.opened and campaigns.delivered not supplied)" == result.reason
    assert result.metrics["rules_evaluated"] == ["responses > sent"]


def test_tool_counts_alone_when_the_crm_has_no_counts(tenants, folders, tmp_path):
    tenant = tenants["clean"]
    c = campaign(tenant)
    drop = {"campaigns": ["sent", "delivered", "opened", "responses"]}
    assert audit(folders["clean"], tmp_path / "a", drop_columns=drop)[CAMPAIGNS].status == "skipped"
    counts = [count("Mailchimp", "campaigns", 10, measure="sent", key=c["name"]),
              count("Mailchimp", "campaigns", 40, measure="opened", key=c["name"]),
              count("Mailchimp", "campaigns", 9, measure="delivered", key=c["name"])]
    result = audit(folders["clean"], tmp_path / "b", counts, drop_columns=drop)[CAMPAIGNS]
    assert_findings(result, [c["id"]])
    assert "40 opened > 9 delivered" in result.details[c["id"]]


def test_missing_campaign_counts_and_skip_reason(folders, tmp_path):
    drop = {"campaigns": ["sent", "delivered", "opened", "responses"]}
    counts = [count("Mailchimp", "campaigns", None, measure="sent", missing=FAILED, source="")]
    result = audit(folders["clean"], tmp_path, counts, drop_columns=drop)[CAMPAIGNS]
    assert result.status == "skipped"
    assert "sent and delivered" in result.reason and f"counts missing: mailchimp campaigns sent ({FAILED})" in result.reason


def test_invoices_are_compared_with_won_deals_only(tenants, folders, tmp_path):
    tenant = tenants["clean"]
    name = "Accounting Sync"
    won = sum(1 for r in tenant.rows("deals") if (r["source_detail"] or "") == name and r["is_won"])
    every = held(tenant, name, "deals")
    assert 0 < won < every
    source = "Xero sales invoices (ACCREC) with status AUTHORISED or PAID"
    same = audit(folders["clean"], tmp_path / "same", [count(name, "deals", won, measure="won", probe="xero", source=source)],
                 drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    assert_findings(same, [])
    assert same.metrics["by_object"][name]["won deals"]["in_crm"] == won
    # the same invoices compared with every deal would be a false alarm: the measure says which
    fewer = audit(folders["clean"], tmp_path / "fewer", [count(name, "deals", won // 2, measure="won", probe="xero", source=source)],
                  drop_columns={"integrations": ["records_reported"]})[MISMATCH]
    assert_findings(fewer, [integration_id(tenant, name)])
    assert f"{name} won deals: the CRM holds {won:,} (CRM: won deals whose source_detail is '{name}')" in fewer.details[integration_id(tenant, name)]


def test_without_crm_campaigns_the_tools_own_counts_are_checked(tenants, folders, tmp_path):
    sane = [count("Mailchimp", "campaigns", 500, measure="sent", key="Newsletter 2026-05"),
            count("Mailchimp", "campaigns", 480, measure="delivered", key="Newsletter 2026-05")]
    result = audit(folders["clean"], tmp_path / "sane", sane, drop=("campaigns",))[CAMPAIGNS]
    assert result.status == "pass" and result.affected.population == 1
    assert "only the sending tool's own counts were checked" in result.reason
    assert "campaigns table" in result.reason
    broken = sane + [count("Mailchimp", "campaigns", 600, measure="opened", key="Newsletter 2026-05")]
    result = audit(folders["clean"], tmp_path / "broken", broken, drop=("campaigns",))[CAMPAIGNS]
    assert result.status == "fail" and result.affected.ids == []
    assert "1 of 1 campaign in the sending tool" in result.message
    # neither side has campaigns: skipped, never passed
    nothing = audit(folders["clean"], tmp_path / "nothing", [], drop=("campaigns",))[CAMPAIGNS]
    assert nothing.status == "skipped" and "needs the campaigns table" in nothing.reason


def test_an_empty_campaigns_table_is_never_a_pass(folders, tmp_path):
    """The CRM supplies the campaigns table with every count column but holds no campaign: with
    nothing from the sending tool either, there is nothing to check (skipped, not a pass with
    population 0); with the tool's counts, those are checked on their own."""
    nothing = audit(folders["clean"], tmp_path / "nothing", [], empty=("campaigns",))[CAMPAIGNS]
    assert nothing.status == "skipped", (nothing.status, nothing.affected.population)
    assert nothing.reason == "the CRM holds no campaigns, and no integration probe reports campaign counts"
    broken = [count("Mailchimp", "campaigns", 500, measure="sent", key="Newsletter 2026-05"),
              count("Mailchimp", "campaigns", 600, measure="delivered", key="Newsletter 2026-05")]
    result = audit(folders["clean"], tmp_path / "broken", broken, empty=("campaigns",))[CAMPAIGNS]
    assert result.status == "fail" and result.affected.ids == [] and result.affected.population == 1
    assert result.message.startswith("the CRM holds no campaigns; 1 of 1 campaign in the sending tool")
