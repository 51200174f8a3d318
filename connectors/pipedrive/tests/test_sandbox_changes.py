"""The sandbox's mutation API on canonical rows (``put_record`` / ``delete_record``) for every
table it changes, read back over HTTP as Pipedrive serves it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from crm_audit_pipedrive.mapping import NOTE_ID_PREFIX
from crm_audit_pipedrive.sandbox import start_sandbox

WHEN = datetime(2026, 11, 5, 12, 0, tzinfo=timezone.utc)


def _get(handle, path, **params):
    response = requests.get(f"{handle.url}{path}", params={"limit": 500, **params},
                            headers={"x-api-token": "sandbox-token"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_put_record_updates_and_adds_in_pipedrive_shape(small_tenant):
    with start_sandbox(small_tenant) as handle:
        company = dict(small_tenant["companies"][0], name="Renamed Co", industry="Mining")
        handle.put_record("companies", company, when=WHEN)
        deal = dict(small_tenant["deals"][0], id="99999991", name="New deal")
        handle.put_record("deals", deal, when=WHEN)
        orgs = {o["id"]: o for o in _get(handle, "/api/v2/organizations")}
        org = orgs[int(company["id"])]
        assert org["name"] == "Renamed Co" and org["update_time"] == "2026-11-05T12:00:00Z"
        assert "Mining" in org["custom_fields"].values()
        deals = {d["id"]: d for d in _get(handle, "/api/v2/deals", updated_since="2026-11-01T00:00:00Z")}
        assert set(deals) == {99999991} and deals[99999991]["title"] == "New deal"
        assert deals[99999991]["stage_id"] is not None


def test_notes_are_changed_and_deleted_by_their_canonical_id(small_tenant):
    with start_sandbox(small_tenant) as handle:
        note = next(a for a in small_tenant["activities"] if a["type"] == "note")
        handle.put_record("activities", dict(note, subject="Edited"), when=WHEN)
        assert {n["id"]: n["content"] for n in _get(handle, "/api/v1/notes")}[int(note["id"])] == "Edited"
        handle.delete_record("activities", f"{NOTE_ID_PREFIX}{note['id']}", when=WHEN)
        assert int(note["id"]) not in {n["id"] for n in _get(handle, "/api/v1/notes")}
        recents = _get(handle, "/api/v1/recents", since_timestamp="2026-11-01 00:00:00", items="note")
        assert {"item": "note", "id": int(note["id"]), "active": False} in [
            {"item": e["item"], "id": e["id"], "active": e["data"]["active_flag"]} for e in recents]


def test_tables_the_sandbox_cannot_change_are_refused(small_tenant):
    with start_sandbox(small_tenant) as handle:
        with pytest.raises(NotImplementedError, match="cannot change users"):
            handle.put_record("users", small_tenant["users"][0])
