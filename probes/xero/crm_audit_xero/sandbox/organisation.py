"""The Xero organisation a generated tenant implies: its contacts and invoices, as Xero JSON.

A CRM's accounting integration (the generator's "Accounting Sync") creates a Xero contact
for each company it syncs and a sales invoice for each deal the CRM wins. So the sandbox's
organisation holds:

* one ACTIVE contact per company of the tenant whose ``source_detail`` names the
  integration (compared case-insensitively);
* one sales invoice (``Type`` ACCREC) per deal of the tenant whose ``source_detail`` names
  the integration: AUTHORISED or PAID for a won deal (PAID once it closed more than 30
  days before the tenant's date), VOIDED for a lost one, DRAFT for an open one.

Besides, what a real organisation also holds and the probe's filters must leave out:
an ARCHIVED contact for every tenth synced company (Xero archives the duplicate when
two contacts are merged) and a supplier bill (``Type`` ACCPAY, PAID) for every fourth.
So the probe's counts equal the tenant's synced companies and won deals only if it
filters as documented (docs/probes/xero.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from crm_audit_core.sandbox.server import tenant_rows

NAMESPACE = uuid.UUID("6f1d3c2e-4b8a-4f5e-9c1d-2a7b8e9f0a1b")
PAID_AFTER = timedelta(days=30)


def xero_id(kind: str, key: str) -> str:
    """A stable Xero-style GUID for a record of ``kind`` built from ``key``."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def ms_date(value: Any) -> str:
    """Xero's JSON date: ``/Date(<milliseconds since 1970>+0000)/``."""
    when = _utc(value) or datetime(1970, 1, 1, tzinfo=timezone.utc)
    return f"/Date({int(when.timestamp() * 1000)}+0000)/"


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value)).astimezone(timezone.utc)


def _names(value: Any, integration: str) -> bool:
    return isinstance(value, str) and value.strip().casefold() == integration.strip().casefold()


class Organisation:
    """One Xero organisation built from ``tenant`` (a GeneratedTenant or ``{table: rows}``)
    for the integration named ``integration``. ``contacts`` and ``invoices``: Xero JSON
    records in a stable order; ``synced_companies`` and ``won_deals``: the ground truth the
    probe's counts must equal."""

    def __init__(self, tenant: Any, integration: str):
        self.integration = integration
        name = getattr(tenant, "name", None) or "sandbox"
        self.tenant_id = xero_id("organisation", name)
        self.connection_id = xero_id("connection", name)
        self.name = f"{name} (crm-audit sandbox)"
        self.created = _utc(getattr(tenant, "as_of", None)) or datetime.now(timezone.utc)
        companies = [c for c in tenant_rows(tenant, "companies") if _names(c.get("source_detail"), integration)]
        deals = [d for d in tenant_rows(tenant, "deals") if _names(d.get("source_detail"), integration)]
        self.synced_companies = len(companies)
        self.won_deals = sum(1 for d in deals if d.get("is_won"))
        self.contacts = [self._contact(c) for c in companies]
        self.contacts += [self._archived_duplicate(c) for c in companies[::10]]
        contact_of = {c["id"]: self.contacts[i] for i, c in enumerate(companies)}
        self.invoices = [self._sales_invoice(n, d, contact_of) for n, d in enumerate(deals, start=1)]
        self.invoices += [self._supplier_bill(n, c, contact_of[c["id"]]) for n, c in enumerate(companies[::4], start=1)]

    # -- contacts ----------------------------------------------------------------------

    def _contact(self, company: dict) -> dict:
        updated = company.get("updated_at") or company.get("created_at")
        return {
            "ContactID": xero_id("contact", str(company["id"])),
            "ContactNumber": str(company["id"]),
            "ContactStatus": "ACTIVE",
            "Name": company.get("name") or f"Company {company['id']}",
            "EmailAddress": "",
            "TaxNumber": company.get("tax_id") or "",
            "Addresses": [{"AddressType": "STREET", "AddressLine1": company.get("street") or "",
                           "City": company.get("city") or "", "Region": company.get("state") or "",
                           "PostalCode": company.get("postal_code") or "", "Country": company.get("country") or ""}],
            "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": company.get("phone") or ""}],
            "UpdatedDateUTC": ms_date(updated),
            "ContactGroups": [],
            "IsSupplier": False,
            "IsCustomer": True,
            "HasAttachments": False,
        }

    def _archived_duplicate(self, company: dict) -> dict:
        contact = self._contact(company)
        contact.update({"ContactID": xero_id("archived-contact", str(company["id"])),
                        "ContactNumber": "", "ContactStatus": "ARCHIVED", "Name": f"{contact['Name']} (merged)",
                        "IsCustomer": False})
        return contact

    # -- invoices ----------------------------------------------------------------------

    def _status(self, deal: dict) -> str:
        if deal.get("is_won"):
            closed = _utc(deal.get("close_date")) or self.created
            return "PAID" if self.created - closed > PAID_AFTER else "AUTHORISED"
        return "VOIDED" if deal.get("is_closed") else "DRAFT"

    def _sales_invoice(self, number: int, deal: dict, contact_of: dict) -> dict:
        contact = contact_of.get(deal.get("company_id"))
        if contact is None and contact_of:  # the deal's company is not synced: bill a synced contact
            contacts = list(contact_of.values())
            contact = contacts[int(uuid.UUID(xero_id("pick", str(deal["id"])))) % len(contacts)]
        status = self._status(deal)
        total = round(float(deal.get("amount") or 0.0), 2)
        paid = total if status == "PAID" else 0.0
        when = _utc(deal.get("close_date")) or _utc(deal.get("created_at")) or self.created
        return {
            "Type": "ACCREC",
            "InvoiceID": xero_id("invoice", str(deal["id"])),
            "InvoiceNumber": f"INV-{number:05d}",
            "Reference": deal.get("name") or "",
            "Contact": _contact_ref(contact),
            "Date": ms_date(when),
            "DueDate": ms_date(when + timedelta(days=14)),
            "Status": status,
            "LineAmountTypes": "Exclusive",
            "SubTotal": total,
            "TotalTax": 0.0,
            "Total": total,
            "AmountDue": round(total - paid, 2),
            "AmountPaid": paid,
            "AmountCredited": 0.0,
            "CurrencyCode": deal.get("currency") or "USD",
            "UpdatedDateUTC": ms_date(deal.get("updated_at") or when),
            "HasAttachments": False,
        }

    def _supplier_bill(self, number: int, company: dict, contact: dict) -> dict:
        when = _utc(company.get("created_at")) or self.created
        return {
            "Type": "ACCPAY",
            "InvoiceID": xero_id("bill", str(company["id"])),
            "InvoiceNumber": f"BILL-{number:05d}",
            "Reference": "Referral commission",
            "Contact": _contact_ref(contact),
            "Date": ms_date(when),
            "DueDate": ms_date(when + timedelta(days=30)),
            "Status": "PAID",
            "LineAmountTypes": "Exclusive",
            "SubTotal": 100.0,
            "TotalTax": 0.0,
            "Total": 100.0,
            "AmountDue": 0.0,
            "AmountPaid": 100.0,
            "AmountCredited": 0.0,
            "CurrencyCode": "USD",
            "UpdatedDateUTC": ms_date(when),
            "HasAttachments": False,
        }

    # -- /connections -------------------------------------------------------------------

    def connection(self) -> dict:
        """This organisation as GET /connections lists it."""
        created = self.created.strftime("%Y-%m-%dT%H:%M:%S.%f0")
        return {"id": self.connection_id, "authEventId": xero_id("auth-event", self.tenant_id),
                "tenantId": self.tenant_id, "tenantType": "ORGANISATION", "tenantName": self.name,
                "createdDateUtc": created, "updatedDateUtc": created}


def _contact_ref(contact: dict | None) -> dict:
    if contact is None:
        return {"ContactID": xero_id("contact", "walk-in"), "Name": "Walk-in customer"}
    return {"ContactID": contact["ContactID"], "Name": contact["Name"]}
