"""Xero's official client (``xero-python``) set up for one probe, and what its answers mean.

* :func:`build_client`: an ``ApiClient`` whose token lives in the probe (the client asks
  for it through ``oauth2_token_getter``), TLS settings from the options, and the
  ``AccountingApi`` / ``IdentityApi`` pointed at ``api_url`` through their ``base_url``
  constructor argument (the client has no host setting in its ``Configuration``; its API
  classes take ``base_url``);
* :meth:`XeroClient.request_token`: the client credentials grant of a custom connection,
  sent with the client's ``ApiClient.call_api`` as its ``TokenApi`` sends it, plus the
  probe's timeout (``TokenApi`` sends none, and its token URL is a class constant);
* the client's urllib3 pool gets no retries of its own: the kit's CallPolicy retries,
  with backoff, and counts every attempt;
* :func:`classify_error`: an exception of the client as a kit :class:`Verdict` (401/403:
  refused, 429: rate-limited with ``Retry-After``, or the day's allowance spent when
  ``X-Rate-Limit-Problem`` says ``day``, 5xx: retried). Messages never quote the
  exception's text: the client's ``str()`` carries response headers and bodies.
"""

from __future__ import annotations

import json
import time
from typing import Any

from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import AccessTokenExpiredError, ApiException, ApiSSLException
from xero_python.identity import IdentityApi

from crm_audit_core.errors import AuthError, ConnectorError
from crm_audit_core.kit import Verdict, parse_retry_after

from .i18n import _

XERO_API_URL = "https://api.xero.com"
XERO_IDENTITY_URL = "https://identity.xero.com"
ACCOUNTING_PATH = "/api.xro/2.0"
TOKEN_PATH = "/connect/token"
DAILY_LIMIT = 5000  # calls per organisation per rolling day (docs/probes/xero.md#limits)


class XeroClient:
    """The official client's pieces for one probe: ``api_client``, ``accounting``,
    ``identity``, and the token they send (``token``: the dict the client reads)."""

    def __init__(self, *, api_url: str, identity_url: str, client_id: str | None, client_secret: str | None,
                 access_token: str | None, verify: Any, timeout: float):
        self.api_url = api_url.rstrip("/")
        self.identity_url = identity_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.token: dict = {}
        self.timeout = (timeout, timeout)  # (connect, read): the client takes an int or a pair, not a float
        if access_token:
            self.token = {"access_token": access_token, "token_type": "Bearer", "scope": None,
                          "expires_in": None, "expires_at": None}
        configuration = Configuration(oauth2_token=OAuth2Token(client_id=client_id, client_secret=client_secret))
        if isinstance(verify, str):
            configuration.ssl_ca_cert = verify
        elif verify is False:
            configuration.verify_ssl = False
        self.api_client = ApiClient(configuration, pool_threads=1, oauth2_token_getter=self._get_token,
                                    oauth2_token_saver=self._save_token)
        # One attempt per call: retries are the CallPolicy's (counted, with backoff).
        self.api_client.rest_client.pool_manager.connection_pool_kw["retries"] = False
        self.accounting = AccountingApi(self.api_client, base_url=self.api_url + ACCOUNTING_PATH)
        self.identity = IdentityApi(self.api_client, base_url=self.api_url)

    def _get_token(self) -> dict:
        return dict(self.token)

    def _save_token(self, token: dict) -> None:
        self.token = dict(token)

    @property
    def uses_client_credentials(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def token_expiring(self, margin: float = 60.0) -> bool:
        """Whether there is no token yet or it expires within ``margin`` seconds."""
        if not self.token.get("access_token"):
            return True
        expires_at = self.token.get("expires_at")
        return expires_at is not None and expires_at - margin <= time.time()

    def request_token(self) -> dict:
        """The client credentials grant (POST /connect/token); the token is kept."""
        response, status, _headers = self.api_client.call_api(
            self.identity_url + TOKEN_PATH, "POST",
            header_params={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
            post_params={"grant_type": "client_credentials", "client_id": self.client_id,
                         "client_secret": self.client_secret},
            auth_settings=None, _preload_content=False, _request_timeout=self.timeout)
        try:
            token = json.loads(response.data.decode("utf-8"))
            token["access_token"]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConnectorError(_("POST /connect/token: the answer holds no access_token"), where=self.identity_url,
                                 hint=_("check identity_url: it should be Xero's identity server")) from None
        expires_in = token.get("expires_in")
        token["expires_at"] = time.time() + float(expires_in) if expires_in else None
        token.setdefault("scope", None)
        token.setdefault("token_type", "Bearer")
        self._save_token(token)
        return token

    def close(self) -> None:
        self.api_client.rest_client.pool_manager.clear()


class TokenRefused(AuthError):
    """Xero refused the access token (HTTP 401): a custom connection may ask for a new one."""


def headers_of(exc_or_headers: Any) -> dict:
    """Response headers, lower-cased, of a client exception or a ``(data, status, headers)`` answer."""
    headers = getattr(exc_or_headers, "headers", exc_or_headers)
    try:
        return {str(k).lower(): v for k, v in dict(headers or {}).items()}
    except (TypeError, ValueError):
        return {}


def _xero_detail(exc: ApiException) -> str:
    """Xero's own short words for a failure (``Detail``, ``Message`` or ``error``), or ''."""
    try:
        body = json.loads((exc.body or b"").decode("utf-8", "replace"))
    except (ValueError, AttributeError):
        return ""
    if not isinstance(body, dict):
        return ""
    for key in ("Detail", "Message", "error_description", "error"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key][:200]
    return ""


def classify_error(what: str, exc: BaseException, *, where: str, token_request: bool = False) -> Verdict | None:
    """A kit verdict for an exception the official client raised (None: not the client's)."""
    if isinstance(exc, AccessTokenExpiredError):
        return Verdict.auth_failed(_("{what}: the access token has expired", what=what),
                                   hint=_("configure client_id and client_secret (a custom connection) so the "
                                          "probe can request a new one, or set a fresh access_token"))
    if isinstance(exc, ApiSSLException):
        return Verdict.fatal(_("{what}: the TLS handshake with Xero failed", what=what),
                             hint=_("set 'ca_bundle' to the CA file of a TLS-intercepting proxy"))
    if not isinstance(exc, ApiException):
        return None
    status = exc.status if isinstance(exc.status, int) else getattr(exc.http_resp, "status", None)
    detail = _xero_detail(exc)
    if token_request and status in (400, 401):
        if detail:
            refused = _("{what}: Xero's identity server refused the client id and secret ({detail})",
                        what=what, detail=detail)
        else:
            refused = _("{what}: Xero's identity server refused the client id and secret", what=what)
        return Verdict.auth_failed(refused, hint=_("check the probe's client_id and client_secret against the custom "
                                                   "connection under My Apps in developer.xero.com"))
    code = f"HTTP {status}, {detail}" if detail else f"HTTP {status}"  # the status and Xero's own words
    if status == 401:
        message = _("{what}: Xero refused the access token ({code})", what=what, code=code)
        return Verdict.fatal(message, error=TokenRefused(
            message, where=where, hint=_("check client_id and client_secret, or set a fresh access_token")))
    if status == 403:
        return Verdict.auth_failed(_("{what}: Xero refused access to the organisation ({code})", what=what, code=code),
                                   hint=_("check tenant_id (or leave it unset) and that the connection has the "
                                          "scopes accounting.contacts.read and accounting.transactions.read"))
    if status == 429:
        headers = headers_of(exc)
        retry_after = parse_retry_after(headers.get("retry-after"))
        if str(headers.get("x-rate-limit-problem", "")).lower() == "day":
            return Verdict.quota_spent(_("{what}: Xero's daily limit of {limit} calls for this organisation is spent",
                                         what=what, limit=str(DAILY_LIMIT)),
                                       hint=_("run the audit after the rolling 24-hour window has room"))
        return Verdict.rate_limited(_("{what}: Xero's rate limit was reached (HTTP 429)", what=what),
                                    retry_after=retry_after)
    if status is not None and status >= 500:
        return Verdict.retry(_("{what}: Xero answered HTTP {status}", what=what, status=str(status)))
    if detail:
        return Verdict.fatal(_("{what}: Xero answered HTTP {status} ({detail})", what=what, status=str(status),
                               detail=detail))
    return Verdict.fatal(_("{what}: Xero answered HTTP {status}", what=what, status=str(status)))
