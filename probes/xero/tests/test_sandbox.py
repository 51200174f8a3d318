"""The Xero sandbox, read by Xero's official client unchanged over HTTP: the shapes,
paging, filters, limits and refusals the probe relies on."""

from __future__ import annotations

import pytest
from xero_python.exceptions import ApiException

from crm_audit_xero.client import XeroClient


def text(value) -> str:
    """An enum of the client's models as its text (some fields deserialize to enums)."""
    return getattr(value, "value", value)


def client(handle, **overrides):
    options = dict(handle.options, **overrides)
    out = XeroClient(api_url=options["api_url"], identity_url=options["identity_url"], client_id=options["client_id"],
                     client_secret=options["client_secret"], access_token=None, verify=True, timeout=5.0)
    out.request_token()
    return out


def test_the_official_client_reads_the_sandbox(sandbox, truth):
    xero = client(sandbox)
    [connection] = xero.identity.get_connections()
    assert connection.tenant_type == "ORGANISATION" and connection.tenant_id == sandbox.extra["tenant_id"]
    tenant_id = connection.tenant_id
    seen, page = [], 1
    while True:
        answer = xero.accounting.get_contacts(tenant_id, page=page, page_size=25, summary_only=True)
        assert answer.pagination.page == page and answer.pagination.page_size == 25
        seen += answer.contacts
        if page >= answer.pagination.page_count:
            break
        page += 1
    assert len(seen) == len({c.contact_id for c in seen}) == truth["companies"] == answer.pagination.item_count
    assert {text(c.contact_status) for c in seen} == {"ACTIVE"}
    assert all(c.addresses is None for c in seen)  # summaryOnly leaves the heavy fields out
    everyone = xero.accounting.get_contacts(tenant_id, include_archived=True).contacts
    assert len(everyone) > len(seen) and any(text(c.contact_status) == "ARCHIVED" for c in everyone)
    assert everyone[0].addresses  # without summaryOnly the contact is whole
    booked = xero.accounting.get_invoices(tenant_id, where='Type=="ACCREC"', statuses=["AUTHORISED", "PAID"]).invoices
    assert len(booked) == truth["deals"]
    assert {text(i.status) for i in booked} <= {"AUTHORISED", "PAID"}
    every_invoice = xero.accounting.get_invoices(tenant_id).invoices
    assert {text(i.type) for i in every_invoice} == {"ACCREC", "ACCPAY"}
    assert len(every_invoice) > len(booked)
    [organisation] = xero.accounting.get_organisations(tenant_id).organisations
    assert organisation.name == connection.tenant_name
    assert sandbox.writes() == []


def test_the_sandbox_refuses_as_xero_does(sandbox):
    xero = client(sandbox)
    with pytest.raises(ApiException) as refused:
        xero.accounting.get_contacts("00000000-0000-0000-0000-000000000000")
    assert refused.value.status == 403 and b"AuthenticationUnsuccessful" in refused.value.body
    with pytest.raises(ApiException) as refused:
        xero.accounting.get_contacts(sandbox.extra["tenant_id"], page=1, page_size=1001)
    assert refused.value.status == 400
    with pytest.raises(ApiException) as refused:
        xero.accounting.get_contacts(sandbox.extra["tenant_id"], where='Colour=="red"')
    assert refused.value.status == 400 and b"Colour" in refused.value.body
    with pytest.raises(ApiException) as refused:
        client(sandbox, client_secret="not-the-secret")
    assert refused.value.status == 400 and b"invalid_client" in refused.value.body
    xero.token = {"access_token": "forged", "token_type": "Bearer", "scope": None, "expires_in": None}
    with pytest.raises(ApiException) as refused:
        xero.identity.get_connections()
    assert refused.value.status == 401


def test_limits_and_writes_are_visible(info, tenant):
    with info.sandbox(tenant, rate_limit=2, rate_window=60.0) as handle:
        xero = client(handle)
        tenant_id = handle.extra["tenant_id"]
        response = xero.api_client.rest_client.pool_manager.request(
            "POST", handle.url + "/api.xro/2.0/Contacts", body=b"{}",
            headers={"Authorization": "Bearer " + xero.token["access_token"], "xero-tenant-id": tenant_id})
        assert response.status == 405
        _, _, headers = xero.accounting.get_contacts(tenant_id, page=1, _return_http_data_only=False)
        assert headers["X-MinLimit-Remaining"] == "0" and int(headers["X-DayLimit-Remaining"]) == 4998
        with pytest.raises(ApiException) as limited:
            xero.accounting.get_contacts(tenant_id, page=1)
        assert limited.value.status == 429
        assert limited.value.headers["X-Rate-Limit-Problem"] == "minute" and int(limited.value.headers["Retry-After"]) > 0
        assert [(w["method"], w["path"]) for w in handle.writes()] == [("POST", "/api.xro/2.0/Contacts")]
