"""crm-audit integration probe for Xero: the other side of a CRM's accounting sync.

:mod:`.probe` counts, with Xero's official client (``xero-python``), the contacts and the
booked sales invoices of one Xero organisation, so ``integrations.sync-count-mismatch``
can compare them with the companies and won deals the CRM says it synced; :mod:`.client`
sets the official client up and reads its errors; :mod:`.sandbox` emulates the API for a
generated tenant; :mod:`.plugin` registers the probe (entry point group ``crm_audit``).
The user's guide, with the sources of every API fact used: docs/probes/xero.md.
"""
