"""One Pipedrive request: the authenticated ``requests`` session, the budget guard and the
burst limiter around every call, tenacity retries, and what each answer means (401 ->
AuthError, 403 -> PermissionDenied, 429 burst -> retry after the reset, 429 with no daily
tokens left -> BudgetExhausted at once, 5xx and bodies that are not JSON -> retry, 400 ->
BadRequest). Every response's limit headers tune the guard and the limiter."""

from __future__ import annotations

import time

import requests

from crm_audit_core.errors import AuthError, BudgetExhausted, ConfigError, ConnectorError
from crm_audit_core.http import BudgetGuard, CallStats, RateLimiter, RetryableError, make_session, parse_retry_after, retrying
from crm_audit_core.secrets import redact

# Token costs per request kind (third-party summary of Pipedrive's token-based limits,
# shared/CRM-APIS.md 3.5: list GET 20, v2 "lower"). Only used to budget ahead of the
# server's own count, which the guard re-reads from every response.
TOKEN_COST = {"v1": 20, "v2": 10}


class BadRequest(ConnectorError):
    """HTTP 400: a request Pipedrive refuses (e.g. a cursor that is no longer valid)."""


class PermissionDenied(ConnectorError):
    """HTTP 403 on an endpoint the token's user may not read (e.g. webhooks for non-admins)."""


def base_url_from_options(options: dict) -> str:
    """``base_url``, else ``https://<company_domain>.pipedrive.com``."""
    base = options.get("base_url")
    if base:
        return str(base).rstrip("/")
    domain = options.get("company_domain")
    if not domain:
        raise ConfigError(
            "Pipedrive needs 'company_domain' (acme for https://acme.pipedrive.com) or 'base_url'",
            where="pipedrive",
        )
    domain = str(domain).strip()
    domain = domain.removeprefix("https://").removeprefix("http://").split("/")[0]
    if not domain.endswith(".pipedrive.com"):
        domain = f"{domain}.pipedrive.com"
    return f"https://{domain}"


class PipedriveClient:
    """GETs against one company's API; ``progress`` is the handle of the table being read."""

    def __init__(self, base_url: str, *, api_token=None, access_token=None, verify=True, timeout: float = 60.0,
                 burst_limit: int = 20, burst_window: float = 2.0, budget_share: float = 0.2,
                 retry_attempts: int = 6, retry_base_delay: float = 0.5, retry_max_delay: float = 30.0):
        self.base_url = base_url
        self.api_token = api_token
        self.timeout = timeout
        self.retry_attempts = retry_attempts
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.stats = CallStats()
        # The server's own window: Pipedrive counts a request when it arrives, and each
        # request holds its slot until a window after its answer (limiter.record() in
        # _get_once), never earlier than Pipedrive frees it.
        self.limiter = RateLimiter(burst_limit, burst_window, stats=self.stats)
        self.budget = BudgetGuard(share=budget_share, crm="Pipedrive", unit="API tokens")
        self.session = make_session(self.stats, verify=verify)
        if api_token:
            self.session.headers["x-api-token"] = str(api_token)
        else:
            self.session.headers["Authorization"] = f"Bearer {access_token}"
        self.session.headers["Accept"] = "application/json"
        self.progress = None

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)
        if self.progress is not None:
            self.progress.waiting(seconds)

    def get(self, version: str, path: str, params: dict) -> dict:
        """The JSON body of ``GET /api/<version><path>``, retried while it is transient."""
        url = f"{self.base_url}/api/{version}{path}"
        where = f"Pipedrive GET /api/{version}{path}"
        try:
            for attempt in retrying(
                max_attempts=self.retry_attempts,
                base_delay=self.retry_base_delay,
                max_delay=self.retry_max_delay,
                stats=self.stats,
                sleep=self._sleep,
            ):
                with attempt:
                    return self._get_once(url, where, version, params)
        except RetryableError as exc:
            raise ConnectorError(
                f"{where} still failing after {self.retry_attempts} attempts: {exc.message}",
                hint="Pipedrive may be degraded; run the audit again later or raise 'retry_attempts'",
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, url: str, where: str, version: str, params: dict) -> dict:
        self.budget.before_call(TOKEN_COST[version])
        waited = self.limiter.acquire()
        if waited and self.progress is not None:
            self.progress.waiting(waited)
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            # Connection resets, timeouts, truncated chunked bodies: all transient.
            raise RetryableError(f"{type(exc).__name__}: {redact(str(exc))[:200]}") from None
        finally:
            # Answered or failed: the burst window counts the call from its arrival, so it
            # holds its slot until a window after now (RateLimiter.record).
            self.limiter.record()
        self._observe_limits(response.headers)
        status = response.status_code
        if status == 401:
            raise AuthError(
                f"Pipedrive refused the {'API token' if self.api_token else 'OAuth access token'} "
                f"(HTTP 401 {self._error_text(response) or 'unauthorized access'})",
                where=self.base_url,
                hint=(
                    "check api_token, from Pipedrive Settings > Personal preferences > API, and "
                    "company_domain" if self.api_token else
                    "the access token is invalid or expired: refresh it and set 'access_token'"
                ),
            )
        if status == 403:
            raise PermissionDenied(
                f"{where}: HTTP 403 {self._error_text(response) or 'forbidden'}",
                hint="the token's user lacks the permission or the plan lacks the feature",
            )
        if status == 429:
            daily_left = response.headers.get("x-daily-ratelimit-token-remaining")
            if daily_left is not None and _int(daily_left) == 0:
                raise BudgetExhausted(
                    f"{where}: Pipedrive's daily API token budget is used up (HTTP 429)",
                    hint="run the audit after the budget resets at midnight (company time)",
                )
            after = max(
                parse_retry_after(response.headers.get("x-ratelimit-reset")) or 0.0,
                parse_retry_after(response.headers.get("Retry-After")) or 0.0,
            )
            raise RetryableError("HTTP 429 rate limited", retry_after=after or None)
        if status >= 500:
            raise RetryableError(
                f"HTTP {status} {self._error_text(response)}".strip(),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == 400:
            raise BadRequest(
                f"{where}: HTTP 400 {self._error_text(response)}".strip(),
                hint="this is a request the connector should not make; please report it",
            )
        if status >= 400:
            raise ConnectorError(
                f"{where}: HTTP {status} {self._error_text(response)}".strip(),
                hint="this is a request the connector should not make; please report it",
            )
        try:
            body = response.json()
        except ValueError:
            raise RetryableError(f"HTTP {status} with a body that is not JSON ({len(response.content)} bytes)") from None
        if not isinstance(body, dict) or ("data" not in body and "success" not in body):
            raise RetryableError(f"HTTP {status} with an unexpected body shape")
        if body.get("success") is False:
            raise ConnectorError(f"{where}: {body.get('error') or 'request failed'}")
        return body

    @staticmethod
    def _error_text(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        if isinstance(body, dict):
            return redact(str(body.get("error") or ""))
        return ""

    def _observe_limits(self, headers) -> None:
        limit = headers.get("x-daily-ratelimit-token-limit")
        remaining = headers.get("x-daily-ratelimit-token-remaining")
        if limit is not None or remaining is not None:
            self.budget.observe(limit=_int(limit), remaining=_int(remaining))
        burst = _int(headers.get("x-ratelimit-limit"))
        if burst and burst > 0:
            # The server says our burst allowance is lower than configured: obey it.
            self.limiter.follow(burst)


def _int(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
