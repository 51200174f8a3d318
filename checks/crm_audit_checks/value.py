"""Standard checks: conversion and value (Part 1, step 3).

* value.year-over-year compares the audit year with the year before: win rate, revenue
  won, average deal size, sales-cycle length, lead-to-customer conversion, and the share
  of won deals worked in the CRM (won deals with an activity linked), which normalises
  the comparison: revenue that grew while the CRM's share fell was not won through it.
* value.crm-roi computes CRM ROI = (gain - cost) / cost from ``[value]`` in crm-audit.toml.

The audit year is the ``days`` (365) days before the audit date, or before
``period_end`` when that setting names a date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crm_audit_core import ConfigError, Message, Money, Percent, check

from .i18n import _


def _period_end(ctx) -> datetime:
    text = str(ctx.settings.get("period_end") or "").strip()
    if not text:
        return ctx.as_of
    try:
        end = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(_("period_end {value} is not a date", value=repr(text)), where=f"checks.{ctx.check.id}",
                          hint=_("use YYYY-MM-DD")) from None
    return end.replace(tzinfo=None) if end.tzinfo is None else end.astimezone().replace(tzinfo=None)


def _signed(share: float):
    """A change as a signed percentage (``+12%``, ``-40%``) for the reader's language."""
    if share < 0:
        return Percent(share, 0)
    return _("+{share}", share=Percent(share, 0))


def _change(now, before):
    if now is None or before is None:
        return None
    if before == 0:
        return None
    return round((now - before) / abs(before), 4)


@check(
    id="value.year-over-year",
    title="This year against last year: win rate, revenue, cycle, conversion",
    step="value",
    area="usage",
    severity="low",
    needs={"deals": ["id", "is_closed", "is_won", "close_date", "amount", "created_at"]},
    settings={"days": 365, "period_end": "", "max_decline": 0.5, "min_closed_deals": 30, "customer_stages": ["customer"]},
    settings_help={
        "days": "length of the audit year (and of the year before it) in days",
        "period_end": "date the audit year ends (YYYY-MM-DD); empty = the audit date",
        "max_decline": "fails when revenue won or the win rate fell by more than this share (0.5 = 50%)",
        "min_closed_deals": "a fall is only judged when both years closed at least this many deals (smaller samples swing)",
        "customer_stages": "contact lifecycle stages that count as a customer for lead conversion",
    },
    description=(
        "Compares the audit year with the year before: win rate, revenue won, average deal size, sales-cycle "
        "length, lead-to-customer conversion and the share of won deals worked in the CRM. A steep fall in "
        "revenue or win rate is flagged."
    ),
    remediation=(
        "Review the comparison with sales leadership: where revenue or win rate fell, look at the pipeline "
        "stages and lost reasons; where the CRM's share fell, find the deals worked outside it."
    ),
)
def year_over_year(ctx):
    days = ctx.settings["days"]
    end = _period_end(ctx)
    middle, start = end - timedelta(days=days), end - timedelta(days=2 * days)
    has_activity = ctx.supplied("activities", "deal_id")
    through = "EXISTS (SELECT 1 FROM activities a WHERE a.deal_id = d.id)" if has_activity else "NULL"
    periods = {}
    for key, lo, hi in (("previous_year", start, middle), ("audit_year", middle, end)):
        r = ctx.rows(
            "SELECT count(*) FILTER (WHERE is_closed OR is_won) AS closed, count(*) FILTER (WHERE is_won) AS won, "
            "coalesce(sum(amount) FILTER (WHERE is_won), 0) AS revenue, "
            "avg(amount) FILTER (WHERE is_won AND amount IS NOT NULL) AS average_deal, "
            "median(date_diff('day', created_at, close_date)) FILTER (WHERE is_won AND created_at <= close_date) AS cycle, "
            f"count(*) FILTER (WHERE is_won AND {through}) AS won_in_crm "
            "FROM deals d WHERE close_date >= $lo AND close_date < $hi AND (is_closed OR is_won)",
            lo=lo, hi=hi,
        )[0]
        closed, won = int(r["closed"]), int(r["won"])
        p = {
            "start": lo.date().isoformat(), "end": hi.date().isoformat(),
            "deals_closed": closed, "deals_won": won,
            "win_rate": round(won / closed, 4) if closed else None,
            "revenue_won": round(float(r["revenue"]), 2),
            "average_deal_size": round(float(r["average_deal"]), 2) if r["average_deal"] is not None else None,
            "sales_cycle_days_median": float(r["cycle"]) if r["cycle"] is not None else None,
            "crm_share_of_won_deals": (round(int(r["won_in_crm"]) / won, 4) if won and has_activity else None),
        }
        if ctx.supplied("contacts", "created_at") and ctx.supplied("contacts", "lifecycle_stage"):
            stages = [str(s).lower() for s in ctx.settings["customer_stages"]]
            c = ctx.rows(
                "SELECT count(*) AS leads, count(*) FILTER (WHERE list_contains($stages, lower(lifecycle_stage))) AS customers "
                "FROM contacts WHERE created_at >= $lo AND created_at < $hi",
                lo=lo, hi=hi, stages=stages,
            )[0]
            p["leads_created"] = int(c["leads"])
            p["leads_now_customers"] = int(c["customers"])
            p["lead_to_customer_conversion"] = round(int(c["customers"]) / int(c["leads"]), 4) if c["leads"] else None
        periods[key] = p
    now, before = periods["audit_year"], periods["previous_year"]
    keys = ["win_rate", "revenue_won", "average_deal_size", "sales_cycle_days_median", "crm_share_of_won_deals",
            "lead_to_customer_conversion", "deals_won", "deals_closed"]
    change = {k: _change(now.get(k), before.get(k)) for k in keys if k in now}
    delta = {k: (round(now[k] - before[k], 4) if now.get(k) is not None and before.get(k) is not None else None)
             for k in keys if k in now}
    limit = float(ctx.settings["max_decline"])
    enough = min(now["deals_closed"], before["deals_closed"]) >= int(ctx.settings["min_closed_deals"])
    falls = [k for k in ("revenue_won", "win_rate") if enough and change.get(k) is not None and change[k] < -limit]
    metrics = {**periods, "change": change, "delta": delta}
    bits = []
    if change.get("revenue_won") is not None:
        bits.append(_("revenue won {change}", change=_signed(change["revenue_won"])))
    if change.get("win_rate") is not None:
        bits.append(_("win rate {change}", change=_signed(change["win_rate"])))
    if change.get("sales_cycle_days_median") is not None:
        bits.append(_("sales cycle {change}", change=_signed(change["sales_cycle_days_median"])))
    if bits:
        message = _("audit year against the year before: {changes}", changes=Message.join(bits, ", "))
    else:
        message = _("not enough closed deals in both years to compare")
    if not enough:
        too_few = _("(too few closed deals to judge: fewer than {min_closed} in a year)",
                    min_closed=int(ctx.settings["min_closed_deals"]))
        message = Message.join([message, too_few], " ")
    if falls:
        names = {"revenue_won": _("revenue won"), "win_rate": _("win rate")}
        fell = _("(fell by more than {limit}: {measures})", limit=Percent(limit, 0), measures=[names[k] for k in falls])
        message = Message.join([message, fell], " ")
    return ctx.result(ids=[], metrics=metrics, failed=bool(falls), message=message,
                      population=now["deals_closed"] + before["deals_closed"])


def _number(section: dict, key: str) -> float | None:
    value = section.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(_("value.{key} must be a number, not {value}", key=key, value=repr(value)),
                          where="crm-audit.toml [value]")
    try:
        return float(str(value).replace(",", "").replace("_", ""))
    except ValueError:
        raise ConfigError(_("value.{key} must be a number, not {value}", key=key, value=repr(value)),
                          where="crm-audit.toml [value]", hint=_("e.g. cost = 24000")) from None


@check(
    id="value.crm-roi",
    title="Return on the CRM investment",
    step="value",
    area="usage",
    severity="medium",
    needs={},
    settings={"min_roi": 0.0},
    settings_help={"min_roi": "fails when ROI = (gain - cost) / cost is below this (0 = the CRM pays for itself)"},
    description=(
        "CRM ROI = (gain from the CRM investment - cost of the investment) / cost, from [value] cost and gain "
        "in crm-audit.toml (licences, implementation and admin time against the gain the team attributes to "
        "the CRM). Skipped when they are not given."
    ),
    remediation=(
        "When the ROI is negative, cut unused licences (see usage.login-adoption), drop add-ons nobody uses, "
        "and raise adoption; put the estimate of gain and cost in [value] so each audit tracks it."
    ),
    object="value",
)
def crm_roi(ctx):
    section = ctx.config.section("value") if ctx.config is not None else {}
    cost, gain = _number(section, "cost"), _number(section, "gain")
    if cost is None or gain is None:
        missing = [k for k, v in (("cost", cost), ("gain", gain)) if v is None]
        return ctx.skip(_("[value] {keys} not given in crm-audit.toml (e.g. [value] cost = 24000, gain = 60000)",
                          keys=missing))
    if cost <= 0:
        raise ConfigError(_("value.cost must be more than 0, not {cost}", cost=cost), where="crm-audit.toml [value]")
    roi = (gain - cost) / cost
    min_roi = float(ctx.settings["min_roi"])
    currency = str(section.get("currency") or "")
    metrics = {"cost": cost, "gain": gain, "roi": round(roi, 4), "roi_percent": round(roi * 100, 1), "min_roi": min_roi}
    if currency:
        metrics["currency"] = currency
    def money(v: float):
        return Money(v, currency.upper()) if currency else v

    return ctx.result(ids=[], metrics=metrics, failed=roi < min_roi,
                      message=_("CRM ROI {roi}: gain {gain} against cost {cost}", roi=Percent(roi, 0), gain=money(gain),
                                cost=money(cost)))


CHECKS = (year_over_year, crm_roi)
