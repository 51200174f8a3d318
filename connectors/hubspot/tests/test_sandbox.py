"""The sandbox speaks HubSpot: shapes checked with hubspot-api-client's own models (validation on)."""

from __future__ import annotations

import json

import pytest
import requests

from crm_audit_hubspot.sandbox import start_sandbox


class _Raw:
    def __init__(self, text):
        self.data = text

    def getheader(self, name, default=None):
        return default


def deserialize(package: str, text: str, model: str):
    module = __import__(f"hubspot.{package}", fromlist=["ApiClient", "Configuration"])
    configuration = module.Configuration()
    configuration.client_side_validation = True
    return module.ApiClient(configuration).deserialize(_Raw(text), model)


@pytest.fixture
def api(sandbox):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.options['access_token']}"

    def call(method, path, **kw):
        return session.request(method, sandbox.url + path, **kw)
    return call


SHAPES = [
    ("GET", "/crm/v3/objects/contacts?limit=100&properties=email", None, "crm.objects",
     "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"),
    ("POST", "/crm/v3/objects/deals/batch/read", {"inputs": [{"id": "x"}], "properties": ["dealname"]},
     "crm.objects", "BatchResponseSimplePublicObjectWithErrors"),
    ("POST", "/crm/v3/objects/contacts/search", {"limit": 200, "properties": ["email"]}, "crm.objects",
     "CollectionResponseWithTotalSimplePublicObjectForwardPaging"),
    ("GET", "/crm/v3/properties/contacts", None, "crm.properties", "CollectionResponsePropertyNoPaging"),
    ("GET", "/crm/v3/owners/?archived=true", None, "crm.owners", "CollectionResponsePublicOwnerForwardPaging"),
    ("GET", "/settings/v3/users/", None, "settings.users", "CollectionResponsePublicUserForwardPaging"),
    ("GET", "/settings/v3/users/roles", None, "settings.users", "CollectionResponsePublicPermissionSetNoPaging"),
    ("GET", "/crm/v3/pipelines/deals", None, "crm.pipelines", "CollectionResponsePipelineNoPaging"),
    ("GET", "/marketing/v3/emails/?includeStats=true", None, "marketing.emails",
     "CollectionResponseWithTotalPublicEmailForwardPaging"),
]


@pytest.mark.parametrize("method,path,body,package,model", SHAPES, ids=[s[4] for s in SHAPES])
def test_shapes_deserialise_with_the_client_models(api, method, path, body, package, model):
    response = api(method, path, json=body)
    assert response.status_code in (200, 207)
    obj = deserialize(package, response.text, model)
    assert obj.results or obj.errors


def test_association_batch_shape(api, tenant):
    contact = next(c for c in tenant["contacts"] if c["company_id"])
    response = api("POST", "/crm/v4/associations/contacts/companies/batch/read",
                   json={"inputs": [{"id": contact["id"]}, {"id": "999999999"}]})
    assert response.status_code == 207
    obj = deserialize("crm.associations.v4", response.text, "BatchResponsePublicAssociationMultiWithLabelWithErrors")
    assert obj.results[0].to[0].to_object_id == contact["company_id"]
    assert obj.num_errors == 1


def test_paging_is_omitted_on_the_last_page(api, tenant):
    first = api("GET", "/crm/v3/objects/contacts?limit=100").json()
    assert first["paging"]["next"]["after"]
    pages, after = 1, first["paging"]["next"]["after"]
    while True:
        page = api("GET", f"/crm/v3/objects/contacts?limit=100&after={after}").json()
        pages += 1
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert pages == -(-len(tenant["contacts"]) // 100)


def test_limits_are_enforced(api):
    assert api("GET", "/crm/v3/objects/contacts?limit=101").status_code == 400
    assert api("POST", "/crm/v3/objects/contacts/search", json={"limit": 201}).status_code == 400
    assert api("POST", "/crm/v3/objects/contacts/search", json={"limit": 100, "after": "10000"}).status_code == 400
    too_many = {"inputs": [{"id": str(i)} for i in range(101)]}
    assert api("POST", "/crm/v3/objects/contacts/batch/read", json=too_many).status_code == 400
    long = "&".join(f"properties=p{i:05d}" for i in range(1000))
    assert api("GET", f"/crm/v3/objects/contacts?{long}").status_code == 414


def test_search_filters_and_has_no_rate_limit_headers(api, tenant):
    response = api("POST", "/crm/v3/objects/contacts/search", json={
        "filterGroups": [{"filters": [{"propertyName": "city", "operator": "EQ", "value": "Seoul"}]}],
        "limit": 10, "properties": ["city"]})
    body = response.json()
    assert body["total"] == sum(1 for c in tenant["contacts"] if c["city"] == "Seoul")
    assert all(r["properties"]["city"] == "Seoul" for r in body["results"])
    assert "X-HubSpot-RateLimit-Daily" not in response.headers
    assert "X-HubSpot-RateLimit-Daily" in api("GET", "/crm/v3/objects/contacts").headers


def test_auth_and_rate_limit_bodies(tenant):
    with start_sandbox(tenant, rate_limit=1, rate_window=5) as handle:
        bad = requests.get(handle.url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer no"})
        assert bad.status_code == 401 and bad.json()["category"] == "INVALID_AUTHENTICATION"
        assert bad.headers["X-HubSpot-Auth-Failure"] == "401 Unauthorized"
        good = {"Authorization": "Bearer sandbox-token"}
        assert requests.get(handle.url + "/crm/v3/objects/contacts", headers=good).status_code == 200
        limited = requests.get(handle.url + "/crm/v3/objects/contacts", headers=good)
        assert limited.status_code == 429
        body = limited.json()
        assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert [r["status"] for r in handle.requests] == [401, 200, 429]


def test_writes_are_refused(api):
    assert api("PATCH", "/crm/v3/objects/contacts/1", json={}).status_code == 405
    assert api("POST", "/crm/v3/objects/contacts", json={}).status_code == 404
