"""The connector acceptance suite of the test kit, run against the Pipedrive sandbox.

Columns Pipedrive cannot hold exactly are compared as Pipedrive keeps them (the hooks
below): won/lost deals sit in their pipeline's last open stage (Pipedrive has no closed
stages, so closed stages are not served); an open deal keeps only the date of its
``close_date`` (``expected_close_date``); notes are their own object, so their canonical
id carries ``note-``; a field's type is what Pipedrive's field type maps back to (it has no
boolean or json fields) and an organization's website, industry and phone are account
(custom) fields, and so is a person's lifecycle stage (an enum person field named
"Lifecycle stage"); no segments and no labels are the same. Not compared at all:
``last_activity_at`` (Pipedrive derives it from the last done activity it links), an
integration's kind (a webhook has only a type: app, webhook, automation) and the
platform row (the connector's own). Integrations' status and last sync are compared
(test_integrations.py also checks them against the generator's ground truth). Pipedrive
shows every webhook as an integration, so the tenant's webhook grants (oauth_grants of
scope "webhook") are integrations of the tenant as Pipedrive holds it
(``webhook_integrations``).
"""

from __future__ import annotations

from crm_audit_core.testing import ConnectorAcceptance, ConnectorUnderTest
from crm_audit_pipedrive.connector import minimum_calls
from crm_audit_pipedrive.fields import FIELD_ENTITIES, FIELD_TYPES, field_hash, slug
from crm_audit_pipedrive.mapping import MAPPED_COLUMNS, NOTE_ID_PREFIX
from crm_audit_pipedrive.sandbox.company import ORG_ACCOUNT_FIELDS, PERSON_ACCOUNT_FIELDS
from crm_audit_pipedrive.security import webhook_integrations

NOT_COMPARED = {("contacts", "last_activity_at"), ("deals", "last_activity_at"), ("integrations", "kind")}


def _mapped_columns() -> dict[str, tuple[str, ...]]:
    return {table: tuple(c for c in columns if (table, c) not in NOT_COMPARED)
            for table, columns in MAPPED_COLUMNS.items() if table != "platform"}


def _minimum_calls(tenant, handle, options) -> int:
    counts = {entity: len(records) for entity, records in handle.app.data.entities.items()}
    counts["permissionSets held"] = len(handle.app.data.held_sets())
    return minimum_calls(counts, int(options.get("page_limit") or 500))


class PipedriveUnderTest(ConnectorUnderTest):
    def tenant(self, **kw):
        """The generated tenant as Pipedrive holds it: its webhook grants are integrations too."""
        tenant = super().tenant(**kw)
        names = {str(i["name"]) for i in tenant.rows("integrations")}
        extra = webhook_integrations(tenant.rows("oauth_grants"), names)
        if extra:
            tenant.add_rows("integrations", extra)
        return tenant


def _tenant_row(table: str, row: dict, handle) -> dict | None:
    if table == "integrations":  # an integration's id is its (first) webhook's
        hooks = [h for h in handle.app.data.entities["webhooks"] if str(h["name"]).lower() == str(row["name"]).lower()]
        if hooks:
            row["id"] = str(min(h["id"] for h in hooks))
    if table == "stages" and row.get("is_closed"):
        return None  # won/lost are deal statuses in Pipedrive
    if table == "deals":
        if row.get("is_closed"):
            row.pop("stage", None)  # the last open stage of its pipeline
        elif row.get("close_date") is not None:
            row["close_date"] = row["close_date"].replace(hour=0, minute=0, second=0, microsecond=0)
    if table == "activities" and row.get("type") == "note":
        row["id"] = f"{NOTE_ID_PREFIX}{row['id']}"
    if table == "fields":
        if row.get("object") not in FIELD_ENTITIES:
            return None
        if row["object"] == "companies" and row["name"] in ORG_ACCOUNT_FIELDS:  # account fields in Pipedrive
            label = ORG_ACCOUNT_FIELDS[row["name"]]
            row.update(name=slug(label), label=label, is_custom=True, type="string")
            return row
        if row["object"] == "contacts" and row["name"] in PERSON_ACCOUNT_FIELDS:  # an enum person field
            label = PERSON_ACCOUNT_FIELDS[row["name"]]
            row.update(name=slug(label), label=label, is_custom=True, type="enumeration")
            return row
        entity = FIELD_ENTITIES[row["object"]]
        code = field_hash(row["object"], row["name"]) if row.get("is_custom") else row["name"]
        served = {f["field_code"]: f for f in handle.app.data.entities[f"{entity}Fields"]}
        row["type"] = FIELD_TYPES.get(served[code]["field_type"], "string")
    return row


def _normalize(table: str, column: str, value):
    if column == "segments" and not value:
        return None
    return value


class TestPipedriveAcceptance(ConnectorAcceptance):
    connector = PipedriveUnderTest(
        name="pipedrive",
        mapped_columns=_mapped_columns(),
        minimum_calls=_minimum_calls,
        options={"rate_limit": "1000"},  # the sandbox runs without a burst window
        tenant_row=_tenant_row,
        normalize=_normalize,
    )
