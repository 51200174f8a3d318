"""The sandbox, read by Mailchimp's official client unchanged over HTTP: what it serves is
what the generated tenant implies (the audience's total is the Mailchimp integration's
records_reported, the campaign and survey reports are the tenant's campaigns)."""

from __future__ import annotations

import json

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from crm_audit_mailchimp.sandbox import split_by_status, start_sandbox


def _mailchimp(tenant) -> dict:
    return next(r for r in tenant.rows("integrations") if r["name"] == "Mailchimp")


def test_audience_total_is_the_reported_count_split_by_status(official_client, sandbox, tenant):
    reported = int(_mailchimp(tenant)["records_reported"])
    crm = sum(1 for c in tenant.rows("contacts") if c["source_detail"] == "Mailchimp")
    assert reported > crm * 1.25  # the planted sync-count skew
    lists = official_client.lists.get_all_lists()
    assert lists["total_items"] == 1
    list_id = lists["lists"][0]["id"]
    counts = {}
    for status in ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"):
        body = official_client.lists.get_list_members_info(list_id, status=status, count=1, fields=["total_items"])
        assert set(body) == {"total_items"}  # the fields filter
        counts[status] = body["total_items"]
    assert sum(v for s, v in counts.items() if s != "archived") == reported
    assert counts == split_by_status(reported)
    assert counts["archived"] > 0 and counts["unsubscribed"] > 0 and counts["cleaned"] > 0
    stats = official_client.lists.get_list(list_id)["stats"]
    assert (stats["member_count"], stats["unsubscribe_count"], stats["cleaned_count"]) == (
        counts["subscribed"], counts["unsubscribed"], counts["cleaned"])


def test_members_page_through_every_status(official_client, sandbox, tenant):
    list_id = sandbox.extra["list_id"]
    seen, offset = [], 0
    while True:
        page = official_client.lists.get_list_members_info(list_id, count=100, offset=offset)
        if not page["members"]:
            break
        seen += page["members"]
        offset += len(page["members"])
    assert len(seen) == page["total_items"] == int(_mailchimp(tenant)["records_reported"])
    assert len({m["id"] for m in seen}) == len(seen)
    assert "archived" not in {m["status"] for m in seen}
    crm_emails = {c["email"].lower() for c in tenant.rows("contacts") if c["source_detail"] == "Mailchimp" and c["email"]}
    assert crm_emails <= {m["email_address"].lower() for m in seen}  # the synced contacts are members


def test_campaign_reports_carry_the_crm_counts(official_client, tenant):
    emails = {c["name"]: c for c in tenant.rows("campaigns") if c["type"] == "email"}
    reports = official_client.reports.get_all_campaign_reports(count=1000)["reports"]
    assert len(reports) == len(emails) > 0
    clamped = 0
    for report in reports:
        crm = emails[report["campaign_title"]]
        bounced = sum(report["bounces"][k] for k in ("hard_bounces", "soft_bounces", "syntax_errors"))
        delivered = report["emails_sent"] - bounced
        assert report["emails_sent"] == crm["sent"]
        assert delivered == min(crm["delivered"], crm["sent"])
        assert report["opens"]["unique_opens"] == min(crm["opened"], delivered)
        assert 0 <= report["opens"]["unique_opens"] <= delivered <= report["emails_sent"]  # always plausible
        clamped += crm["delivered"] > crm["sent"] or crm["opened"] > crm["delivered"]
    assert clamped or not any(c["delivered"] > c["sent"] or c["opened"] > c["delivered"] for c in emails.values())


def test_survey_reports_carry_the_crm_responses(official_client, tenant):
    surveys = {c["name"]: c for c in tenant.rows("campaigns") if c["type"] == "survey"}
    body = official_client.reporting.get_survey_reports_all(count=1000)
    assert body["total_items"] == len(body["surveys"]) == len(surveys) > 0
    for survey in body["surveys"]:
        crm = surveys[survey["title"]]
        assert survey["total_responses"] == min(crm["responses"], crm["sent"])
        assert official_client.reporting.get_survey_report(survey["id"])["title"] == survey["title"]


def test_errors_are_mailchimps_problem_documents(official_client, sandbox):
    with pytest.raises(ApiClientError) as missing:
        official_client.lists.get_list("0000000000")
    assert missing.value.status_code == 404
    assert json.loads(missing.value.text)["title"] == "Resource Not Found"
    official_client.set_config({"api_key": "f" * 32 + "-us21", "server": ""})
    with pytest.raises(ApiClientError) as refused:
        official_client.ping.get()
    body = json.loads(refused.value.text)
    assert (refused.value.status_code, body["status"], body["title"]) == (401, 401, "API Key Invalid")
    assert set(body) == {"type", "title", "status", "detail", "instance"}


def test_writes_are_refused_and_logged(sandbox):
    url = sandbox.options["base_url"] + "/lists"
    answer = requests.post(url, json={"name": "x"}, auth=("user", sandbox.options["api_key"]), timeout=5)
    assert answer.status_code == 405 and answer.json()["title"] == "Method Not Allowed"
    assert [r["method"] for r in sandbox.requests] == ["POST"]


def test_count_above_the_maximum_is_refused(sandbox):
    answer = requests.get(sandbox.options["base_url"] + "/reports", params={"count": 1001},
                          auth=("user", sandbox.options["api_key"]), timeout=5)
    assert answer.status_code == 400


def test_more_audiences(tenant):
    with start_sandbox(tenant, extra_audiences=("Events",)) as handle:
        body = requests.get(handle.options["base_url"] + "/lists", auth=("u", handle.options["api_key"]), timeout=5).json()
    assert body["total_items"] == 2
    assert [a["name"] for a in body["lists"]] == ["Newsletter", "Events"]
    assert body["lists"][1]["stats"]["member_count"] == 0
