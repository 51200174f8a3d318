"""What the Mailchimp sandbox serves, built from a canonical tenant: the account's audience
(its members by status), its campaign reports and its survey reports.

The generated tenant says what the other side of the CRM's Mailchimp sync holds:

* the **audience**: its member total (every status but archived) is the tenant's
  ``integrations.records_reported`` for the Mailchimp integration (the generator plants a
  1.3x skew there: the sync-count mismatch), split by status in fixed shares
  (:data:`STATUS_SHARES`); archived contacts come on top, as Mailchimp keeps them out of
  the audience's count. Members are made on demand from their position (the Mailchimp-sourced
  contacts' distinct e-mail addresses first), so a large audience costs no memory;
* **campaign reports**: one per canonical campaign of type ``email``, with the CRM's
  counts (sent, delivered = sent - bounces, opened); where the CRM's counts are impossible
  (delivered > sent, opened > delivered) Mailchimp reports a plausible count instead
  (delivered at most sent, unique opens at most delivered);
* **survey reports**: one per canonical campaign of type ``survey``, ``total_responses``
  the CRM's responses, at most the survey's sends (the CRM's impossible "more responses
  than people asked" stays the CRM's).

Mailchimp's ids are derived from the tenant's (stable across runs): ten hex characters for
audiences and campaigns, as Mailchimp's look.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from crm_audit_core.sandbox.server import iter_tenant_rows, tenant_rows

UTC = timezone.utc
INTEGRATION = "Mailchimp"
# Shares of the audience's members by status (the rest is subscribed); archived members
# come on top of the audience's total.
STATUS_SHARES = (("unsubscribed", 0.10), ("cleaned", 0.05), ("pending", 0.03), ("transactional", 0.02))
ARCHIVED_SHARE = 0.04
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
MAX_KNOWN_EMAILS = 200_000  # real addresses taken from the tenant; synthetic ones after that


def mailchimp_id(*parts: Any, length: int = 10) -> str:
    """A stable Mailchimp-looking id (lowercase hex) for the given parts."""
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:length]


def iso(value: Any) -> str | None:
    """Mailchimp's timestamp format: ISO 8601 with the UTC offset (2015-10-21T15:41:36+00:00)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(microsecond=0).isoformat()
    return str(value)


def _count(value: Any) -> int:
    if value is None:
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return 0 if math.isnan(number) else max(0, int(number))


@dataclass
class Audience:
    """One audience (a Mailchimp list) and how many members it has in each status."""

    id: str
    name: str
    web_id: int
    created_at: str | None
    counts: dict[str, int]
    emails: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Members in the audience: every status but archived."""
        return sum(n for status, n in self.counts.items() if status != "archived")

    def members(self, status: str | None, offset: int, count: int) -> tuple[list[dict], int]:
        """The members on one page (``status`` None: every status but archived, as
        Mailchimp lists them) and how many match in all."""
        statuses = [status] if status else [s for s in STATUSES if s != "archived"]
        ranges, start = [], 0
        for s in STATUSES:
            n = self.counts.get(s, 0)
            if s in statuses:
                ranges.append((s, start, n))
            start += n
        total = sum(n for _, _, n in ranges)
        page, skip = [], offset
        for s, first, n in ranges:
            if len(page) >= count:
                break
            if skip >= n:
                skip -= n
                continue
            for i in range(first + skip, first + min(n, skip + count - len(page))):
                page.append(self.member(i, s))
            skip = 0
        return page, total

    def member(self, index: int, status: str) -> dict:
        """The member at ``index`` of the audience (a Mailchimp list member, the fields an
        audit reads)."""
        email = self.emails[index] if index < len(self.emails) else f"subscriber{index}@example.org"
        member_id = hashlib.md5(email.lower().encode()).hexdigest()  # Mailchimp: MD5 of the lowercase address
        return {"id": member_id, "email_address": email, "unique_email_id": member_id[:10],
                "contact_id": mailchimp_id("contact", email, length=26), "status": status,
                "list_id": self.id, "timestamp_opt": self.created_at, "last_changed": self.created_at}


class MailchimpAccount:
    """One emulated Mailchimp account built from a tenant (see the module docstring).

    ``extra_audiences``: names of further, empty audiences (an account with more than one
    audience, where the probe needs ``list_id``)."""

    def __init__(self, tenant: Any, *, audience_name: str = "Newsletter", extra_audiences: tuple[str, ...] = ()):
        name = getattr(tenant, "name", None) or "sandbox"
        as_of = getattr(tenant, "as_of", None) or datetime.now(UTC)
        integration = next((r for r in tenant_rows(tenant, "integrations")
                            if str(r.get("name") or "").lower() == INTEGRATION.lower()), None)
        total = _count((integration or {}).get("records_reported"))
        if not total:  # no reported count: the audience holds what the CRM holds
            total = sum(1 for r in iter_tenant_rows(tenant, "contacts")
                        if str(r.get("source_detail") or "").lower() == INTEGRATION.lower())
        created = iso((integration or {}).get("created_at") or as_of)
        self.audiences = [Audience(mailchimp_id(name, "audience", audience_name), audience_name, 100001,
                                   created, split_by_status(total), self._emails(tenant, total))]
        for n, extra in enumerate(extra_audiences, 2):
            self.audiences.append(Audience(mailchimp_id(name, "audience", extra), extra, 100000 + n, created,
                                           {s: 0 for s in STATUSES}))
        main = self.audiences[0]
        self.reports: list[dict] = []
        self.surveys: list[dict] = []
        for row in tenant_rows(tenant, "campaigns"):
            kind = str(row.get("type") or "").lower()
            if kind == "email":
                self.reports.append(campaign_report(row, main))
            elif kind == "survey":
                self.surveys.append(survey_report(row, main, len(self.surveys) + 1))
        self.reports.sort(key=lambda r: r["send_time"] or "", reverse=True)
        self.surveys.sort(key=lambda s: s["created_at"] or "", reverse=True)

    @staticmethod
    def _emails(tenant: Any, total: int) -> list[str]:
        emails: dict[str, str] = {}  # one member per address (Mailchimp's member id is its hash)
        for row in iter_tenant_rows(tenant, "contacts"):
            if len(emails) >= min(total, MAX_KNOWN_EMAILS):
                break
            if str(row.get("source_detail") or "").lower() == INTEGRATION.lower() and row.get("email"):
                emails.setdefault(str(row["email"]).strip().lower(), str(row["email"]).strip())
        return list(emails.values())

    def audience(self, list_id: str) -> Audience | None:
        """The audience with this id, or None (Mailchimp answers 404)."""
        return next((a for a in self.audiences if a.id == list_id), None)


def split_by_status(total: int) -> dict[str, int]:
    """Members per status for an audience of ``total`` (archived on top)."""
    counts = {status: int(total * share) for status, share in STATUS_SHARES}
    counts["subscribed"] = total - sum(counts.values())
    counts["archived"] = int(total * ARCHIVED_SHARE)
    return {s: counts.get(s, 0) for s in STATUSES}


def campaign_report(row: dict, audience: Audience) -> dict:
    """A campaign report (GET /reports) for a canonical email campaign."""
    sent = _count(row.get("sent"))
    delivered = min(_count(row.get("delivered")) if row.get("delivered") is not None else sent, sent)
    opened = min(_count(row.get("opened")), delivered)
    bounced = sent - delivered
    hard = bounced // 3
    soft = bounced - hard
    cid = mailchimp_id("campaign", row.get("id"))
    return {
        "id": cid, "campaign_title": row.get("name"), "type": "regular", "list_id": audience.id,
        "list_is_active": True, "list_name": audience.name, "subject_line": row.get("name"), "preview_text": "",
        "emails_sent": sent, "abuse_reports": 0, "unsubscribed": sent // 200,
        "send_time": iso(row.get("started_at")),
        "bounces": {"hard_bounces": hard, "soft_bounces": soft, "syntax_errors": 0},
        "forwards": {"forwards_count": 0, "forwards_opens": 0},
        "opens": {"opens_total": opened + opened // 4, "unique_opens": opened,
                  "open_rate": round(opened / delivered, 4) if delivered else 0,
                  "last_open": iso(row.get("started_at"))},
        "clicks": {"clicks_total": opened // 5, "unique_clicks": opened // 6, "unique_subscriber_clicks": opened // 6,
                   "click_rate": round((opened // 6) / delivered, 4) if delivered else 0},
    }


def survey_report(row: dict, audience: Audience, web_id: int) -> dict:
    """A survey report (GET /reporting/surveys) for a canonical survey campaign."""
    sent = _count(row.get("sent"))
    responses = min(_count(row.get("responses")), sent)
    sid = mailchimp_id("survey", row.get("id"), length=6)
    started = iso(row.get("started_at"))
    return {"id": sid, "web_id": web_id, "title": row.get("name"), "url": f"https://mailchi.mp/sandbox/{sid}",
            "list_id": audience.id, "list_name": audience.name, "status": "published",
            "created_at": started, "published_at": started, "updated_at": started, "total_responses": responses}
