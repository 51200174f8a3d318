"""One Pipedrive request through the kit's :class:`~crm_audit_core.kit.CallPolicy` (budget
guard -> burst limiter -> send -> record -> retry), and what each answer means
(:func:`classify`): 401 -> AuthError, 403 -> Unavailable, a burst 429 -> retry after the
reset, a 429 with no daily tokens left -> BudgetExhausted at once, 5xx and bodies that are
not JSON -> retry, 400 -> :class:`BadRequest`. Every answer's limit headers tune the
budget guard and the limiter."""

from __future__ import annotations

import requests

from crm_audit_core.errors import ConfigError, ConnectorError
from crm_audit_core.kit import BudgetGuard, CallPolicy, CallStats, RateLimiter, Verdict, make_session, parse_retry_after
from crm_audit_core.secrets import redact

from .i18n import _

# Token costs per request kind (third-party summary of Pipedrive's token-based limits,
# shared/CRM-APIS.md 3.5: list GET 20, v2 "lower"). Only used to budget ahead of the
# server's own count, which the guard re-reads from every response.
TOKEN_COST = {"v1": 20, "v2": 10}


class BadRequest(ConnectorError):
    """HTTP 400: a request Pipedrive refuses (e.g. a cursor that is no longer valid)."""


def base_url(domain: str | None, url: str | None) -> str:
    """``url`` (an override), else ``https://<domain>.pipedrive.com``."""
    if url:
        return str(url).rstrip("/")
    if not domain:
        raise ConfigError(
            "the pipedrive connector needs option 'company_domain' (acme for https://acme.pipedrive.com) "
            "or 'base_url'",
            where="pipedrive",
        )
    domain = str(domain).strip().removeprefix("https://").removeprefix("http://").split("/")[0]
    if not domain.endswith(".pipedrive.com"):
        domain = f"{domain}.pipedrive.com"
    return f"https://{domain}"


class PipedriveClient:
    """GETs against one company's API. ``policy.progress`` is the progress handle of the
    table being read (the connector swaps it per table)."""

    def __init__(self, base: str, *, api_token=None, access_token=None, verify=True, timeout: float = 60.0,
                 rate_limit: int = 20, rate_window: float = 2.0, budget_share: float = 0.2,
                 retry_attempts: int = 6, retry_base_delay: float = 0.5, retry_max_delay: float = 30.0):
        self.base_url = base
        self.api_token = api_token
        self.timeout = timeout
        self.stats = CallStats()
        self.budget = BudgetGuard(share=budget_share, crm="Pipedrive", unit="API tokens")
        # The server's own window: Pipedrive counts a request when it arrives, and each
        # request holds its slot until a window after its answer (the policy records it).
        self.limiter = RateLimiter(rate_limit, rate_window, stats=self.stats)
        # The session counts every answer (count_calls=False: the policy must not count twice).
        self.session = make_session(self.stats, verify=verify)
        self.policy = CallPolicy("Pipedrive", base, stats=self.stats, limiter=self.limiter, budget=self.budget,
                                 attempts=retry_attempts, base_delay=retry_base_delay, max_delay=retry_max_delay,
                                 count_calls=False)
        if api_token:
            self.session.headers["x-api-token"] = str(api_token)
        else:
            self.session.headers["Authorization"] = f"Bearer {access_token}"
        self.session.headers["Accept"] = "application/json"

    def get(self, version: str, path: str, params: dict) -> dict:
        """The JSON body of ``GET /api/<version><path>``, retried while it is transient."""
        url = f"{self.base_url}/api/{version}{path}"
        what = f"Pipedrive GET /api/{version}{path}"
        return self.policy.call(what, lambda: self.session.get(url, params=params, timeout=self.timeout),
                                lambda response: self.classify(what, response), cost=TOKEN_COST[version])

    def classify(self, what: str, response: requests.Response) -> Verdict:
        self._observe_limits(response.headers)
        status = response.status_code
        if status == 401:
            said = error_text(response) or "unauthorized access"  # Pipedrive's own words
            if self.api_token:
                return Verdict.auth_failed(
                    _("Pipedrive refused the API token (HTTP 401 {error})", error=said),
                    hint=_("check api_token, from Pipedrive Settings > Personal preferences > API, "
                           "and company_domain"))
            return Verdict.auth_failed(
                _("Pipedrive refused the OAuth access token (HTTP 401 {error})", error=said),
                hint=_("the access token is invalid or expired: refresh it and set 'access_token'"))
        if status == 403:
            return Verdict.unavailable(_("{what}: HTTP 403 {error}", what=what,
                                         error=error_text(response) or "forbidden"),
                                       hint=_("the token's user lacks the permission or the plan lacks the feature"))
        if status == 429:
            daily_left = response.headers.get("x-daily-ratelimit-token-remaining")
            if daily_left is not None and _int(daily_left) == 0:
                return Verdict.quota_spent(_("{what}: Pipedrive's daily API token budget is used up (HTTP 429)",
                                             what=what),
                                           hint=_("run the audit after the budget resets at midnight (company time)"))
            after = max(parse_retry_after(response.headers.get("x-ratelimit-reset")) or 0.0,
                        parse_retry_after(response.headers.get("Retry-After")) or 0.0)
            return Verdict.rate_limited(_("HTTP 429 rate limited"), retry_after=after or None)
        # the status and Pipedrive's own words (an error body is read only for a failed call)
        answer = f"{status} {error_text(response)}".strip() if status >= 400 else str(status)
        if status >= 500:
            return Verdict.retry(_("HTTP {status}", status=answer),
                                 retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status == 400:
            # The paging code tells an expired cursor (400) from other failures by its type.
            message = _("{what}: HTTP {status}", what=what, status=answer)
            hint = _("this is a request the connector should not make; please report it")
            return Verdict.fatal(message, hint, error=BadRequest(message, where=self.base_url, hint=hint))
        if status >= 400:
            return Verdict.fatal(_("{what}: HTTP {status}", what=what, status=answer),
                                 hint=_("this is a request the connector should not make; please report it"))
        try:
            body = response.json()
        except ValueError:
            return Verdict.retry(_("HTTP {status} with a body that is not JSON ({size} bytes)", status=str(status),
                                   size=len(response.content)))
        if not isinstance(body, dict) or ("data" not in body and "success" not in body):
            return Verdict.retry(_("HTTP {status} with an unexpected body shape", status=str(status)))
        if body.get("success") is False:
            return Verdict.fatal(_("{what}: {error}", what=what, error=str(body.get("error") or "request failed")))
        return Verdict.ok(body)

    def _observe_limits(self, headers) -> None:
        limit = headers.get("x-daily-ratelimit-token-limit")
        remaining = headers.get("x-daily-ratelimit-token-remaining")
        if limit is not None or remaining is not None:
            self.budget.observe(limit=_int(limit), remaining=_int(remaining))
        burst = _int(headers.get("x-ratelimit-limit"))
        if burst and burst > 0:
            # The server says our burst allowance is lower than configured: obey it.
            self.limiter.follow(burst)


def error_text(response: requests.Response) -> str:
    """The ``error`` of Pipedrive's error envelope (redacted), or ''."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return redact(str(body.get("error") or ""))
    return ""


def _int(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
