"""The Mailchimp probe: the other side of a CRM's Mailchimp sync, read-only, as
:class:`~crm_audit_core.probes.SyncCount` rows.

What it reads (every call a GET through Mailchimp's official client under the kit's call
policy, see :mod:`.client`; sources in docs/probes/mailchimp.md):

* the **audience** (``list_id``; found by itself when the account has exactly one):
  ``GET /3.0/lists/{list_id}``, then its members by status, each an exact count from
  ``GET /3.0/lists/{list_id}/members?status=<status>&count=1&fields=total_items`` (the
  audience's ``stats`` are cached by Mailchimp for minutes and have no pending count).
  Object ``contacts``: one row per status (subscribed, unsubscribed, cleaned, pending,
  archived) and ``records``, the members a CRM sync holds: every status but archived
  (subscribed + unsubscribed + cleaned + pending + transactional). Archived contacts are
  out of the audience in Mailchimp and out of a sync;
* **campaign reports** of the audience's campaigns: ``GET /3.0/reports`` (paged, 1,000 a
  page), object ``campaigns``, keyed by the campaign's title: ``sent`` (emails_sent),
  ``bounced`` (hard + soft + syntax-error bounces), ``delivered`` (sent - bounced) and
  ``opened`` (unique opens);
* **survey reports** of the audience's surveys: ``GET /3.0/reporting/surveys``, object
  ``campaigns``, keyed by the survey's title: ``responses`` (total_responses). Mailchimp
  does not say how many people a survey went to, so there is no ``recipients`` count.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator

from crm_audit_core.errors import ConfigError, ConnectorError
from crm_audit_core.kit import Option, Options
from crm_audit_core.probes import ProbeContext, SyncCount

from .client import MailchimpApi, NotFound
from .i18n import _

NAME = "mailchimp"
INTEGRATION = "Mailchimp"
PAGE = 1000  # Mailchimp's largest count per page
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
SYNCED = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")  # what `records` adds up
MEASURED = ("subscribed", "unsubscribed", "cleaned", "pending", "archived")  # statuses with their own row
EXPECTED = (("contacts", "records"),) + tuple(("contacts", status) for status in MEASURED)
_SERVER = re.compile(r"^[a-z]{2,}\d+$")

OPTIONS = {
    "api_key": Option("Mailchimp API key (Profile > Extras > API keys), e.g. \"${MAILCHIMP_API_KEY}\"; its suffix "
                      "after the dash is the data center.", secret=True, required=True),
    "server": "Data center prefix, e.g. us21 (default: the API key's suffix after the dash).",
    "list_id": "The audience (list) the CRM syncs with; needed when the account has more than one audience.",
    "integration": "The integration's name as the CRM knows it (default \"Mailchimp\").",
    "base_url": "Override the API base URL, e.g. a sandbox or proxy (default https://<server>.api.mailchimp.com/3.0).",
    "timeout": "Seconds to wait for one response (default 60).",
    "rate_limit": "Client-side cap on requests per rate window (default 10).",
    "rate_window": "Rate window in seconds (default 1).",
    "max_calls": "Most API calls one probe run may make (default 200).",
    "retry_attempts": "Attempts per request on 429/5xx/connection errors (default 4).",
    "retry_base_delay": "Base of the exponential backoff in seconds (default 0.5).",
    "retry_max_delay": "Longest backoff between attempts in seconds (default 30).",
}


def server_of(api_key: str, server: str | None, opts: Options) -> str:
    """The data center: the ``server`` option, else the API key's suffix."""
    if not server:
        _key, dash, suffix = api_key.rpartition("-")
        if not dash or not _SERVER.match(suffix.lower()):
            raise opts.missing("server", "the data center such as us21: the API key has no '-us21' style suffix")
        server = suffix
    server = server.strip().lower()
    if not _SERVER.match(server):
        raise ConfigError(_("option 'server' of the {probe} probe must be a data center prefix such as 'us21', "
                            "got {value}", probe=NAME, value=repr(server)), where=NAME)
    return server


class MailchimpProbe:
    """One Mailchimp account's counts for one CRM's sync (see the module docstring)."""

    def __init__(self, options: dict, context: ProbeContext | None = None):
        opts = Options(options, NAME, kind="probe")
        api_key = opts.secret("api_key", required=True,
                              hint="set api_key = \"${MAILCHIMP_API_KEY}\" in [tenants.<name>.probes.mailchimp]")
        base_url = opts.text("base_url")
        self.server = None if base_url else server_of(api_key, opts.text("server"), opts)
        self.host = base_url.rstrip("/") if base_url else f"https://{self.server}.api.mailchimp.com/3.0"
        self.list_id = opts.text("list_id")
        self.integration = opts.text("integration", INTEGRATION)
        self.api = MailchimpApi(
            self.host, api_key=api_key,
            timeout=opts.duration("timeout", 60.0, minimum=0.001),
            rate_limit=opts.integer("rate_limit", 10, minimum=1),
            rate_window=opts.duration("rate_window", 1.0, minimum=0.001),
            max_calls=opts.integer("max_calls", 200, minimum=1),
            retry_attempts=opts.integer("retry_attempts", 4, minimum=1),
            retry_base_delay=opts.duration("retry_base_delay", 0.5),
            retry_max_delay=opts.duration("retry_max_delay", 30.0),
        )
        progress = getattr(context, "progress", None)
        if progress is not None and all(hasattr(progress, m) for m in ("advance", "waiting")):
            self.api.policy.progress = progress

    @property
    def api_calls(self) -> int:
        """API calls made so far, for the audit's notes."""
        return self.api.calls

    def close(self) -> None:
        """Nothing to release: the official client opens no lasting connection."""

    # -- reading ---------------------------------------------------------------------

    def read(self, context: ProbeContext | None = None) -> Iterable[SyncCount]:
        """Every count this probe reads (a list: a failure raises before any row is kept)."""
        audience = self.audience()
        rows = list(self.member_counts(audience))
        rows += list(self.campaign_counts(audience))
        rows += list(self.survey_counts(audience))
        return rows

    def audience(self) -> dict:
        """The audience the CRM syncs with: ``list_id``, or the account's only audience."""
        lists = self.api.client.lists
        if self.list_id:
            try:
                return self.api.get("GET /3.0/lists/{list_id}",
                                    lambda: lists.get_list(self.list_id, fields=["id", "name", "stats"]))
            except NotFound:
                known = self.audiences()
                names = ", ".join(f"'{a.get('name')}' (list_id {a.get('id')})" for a in known) or "none"
                raise ConnectorError(
                    _("Mailchimp has no audience with list_id '{list_id}' (HTTP 404); the account's audiences "
                      "are: {names}", list_id=self.list_id, names=names),
                    where=self.host, hint=_("set list_id in the probe's options to one of them")) from None
        known = self.audiences()
        if len(known) == 1:
            return known[0]
        if not known:
            raise ConnectorError(_("the Mailchimp account has no audience, so there are no members to count"),
                                 where=self.host,
                                 hint=_("check that api_key belongs to the account the CRM syncs with"))
        names = ", ".join(f"'{a.get('name')}' (list_id {a.get('id')})" for a in known)
        raise ConfigError(_("the {probe} probe needs option 'list_id': the Mailchimp account has {n} "
                            "audiences: {names}", probe=NAME, n=str(len(known)), names=names), where=NAME,
                          hint=_("set list_id to the audience the CRM syncs with"))

    def audiences(self) -> list[dict]:
        """Every audience of the account (id and name)."""
        lists = self.api.client.lists
        return list(self._pages("GET /3.0/lists", "lists",
                                lambda offset: lists.get_all_lists(count=PAGE, offset=offset,
                                                                   fields=["lists.id", "lists.name", "total_items"])))

    def member_counts(self, audience: dict) -> Iterator[SyncCount]:
        lists, list_id = self.api.client.lists, audience["id"]
        where = f"Mailchimp audience '{audience.get('name')}'"
        counts = {}
        for status in STATUSES:
            body = self.api.get(
                f"GET /3.0/lists/{{list_id}}/members?status={status}",
                lambda status=status: lists.get_list_members_info(list_id, status=status, count=1,
                                                                  fields=["total_items"]))
            counts[status] = _int(body.get("total_items"))
            if status in MEASURED:
                yield self._row("contacts", status, counts[status],
                                source=f"{where} (GET /3.0/lists/{list_id}/members?status={status})")
        synced = [counts[s] for s in SYNCED]
        total = None if any(v is None for v in synced) else sum(synced)
        yield self._row("contacts", "records", total,
                        source=f"{where}: members of every status but archived "
                               f"(GET /3.0/lists/{list_id}/members by status)",
                        missing=None if total is not None else "Mailchimp did not give a total for every status")

    def campaign_counts(self, audience: dict) -> Iterator[SyncCount]:
        reports = self.api.client.reports
        fields = ["reports.id", "reports.campaign_title", "reports.list_id", "reports.type", "reports.emails_sent",
                  "reports.bounces", "reports.opens.unique_opens", "total_items"]
        for report in self._pages("GET /3.0/reports", "reports",
                                  lambda offset: reports.get_all_campaign_reports(count=PAGE, offset=offset,
                                                                                  fields=fields)):
            if report.get("list_id") != audience["id"]:
                continue
            title = report.get("campaign_title") or report.get("id")
            source = f"Mailchimp campaign report '{title}' (GET /3.0/reports, campaign {report.get('id')})"
            sent = _int(report.get("emails_sent"))
            bounces = report.get("bounces") or {}
            parts = [_int(bounces.get(k)) for k in ("hard_bounces", "soft_bounces", "syntax_errors")]
            bounced = None if any(p is None for p in parts) else sum(parts)
            delivered = None if sent is None or bounced is None else sent - bounced
            opened = _int((report.get("opens") or {}).get("unique_opens"))
            for measure, value in (("sent", sent), ("delivered", delivered), ("opened", opened), ("bounced", bounced)):
                yield self._row("campaigns", measure, value, key=title, source=source,
                                missing=None if value is not None else f"the report has no {measure} count")

    def survey_counts(self, audience: dict) -> Iterator[SyncCount]:
        reporting = self.api.client.reporting
        for survey in self._pages("GET /3.0/reporting/surveys", "surveys",
                                  lambda offset: reporting.get_survey_reports_all(count=PAGE, offset=offset)):
            if survey.get("list_id") not in (None, audience["id"]):
                continue
            title = survey.get("title") or survey.get("id")
            responses = _int(survey.get("total_responses"))
            yield self._row("campaigns", "responses", responses, key=title,
                            source=f"Mailchimp survey report '{title}' (GET /3.0/reporting/surveys, survey "
                                   f"{survey.get('id')})",
                            missing=None if responses is not None else "the survey report has no total_responses")

    # -- helpers ---------------------------------------------------------------------

    def _pages(self, what: str, key: str, fetch) -> Iterator[dict]:
        offset = 0
        while True:
            body = self.api.get(f"{what}?offset={offset}" if offset else what, lambda: fetch(offset))
            items = body.get(key) or []
            yield from items
            offset += len(items)
            total = _int(body.get("total_items"))
            if not items or total is None or offset >= total:
                return

    def _row(self, obj: str, measure: str, value: int | None, *, source: str, key: str | None = None,
             missing: str | None = None) -> SyncCount:
        return SyncCount(integration=self.integration, object=obj, measure=measure, value=value, key=key,
                         source=source, missing=missing)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def create_probe(options: dict, context: ProbeContext) -> MailchimpProbe:
    """The probe for one tenant's options (parsed here; no network until ``read``)."""
    return MailchimpProbe(options, context)
