"""Logging in to Salesforce: which of the three auth modes the options ask for, the
simple-salesforce arguments of that mode, and the one-line error when Salesforce refuses.

Modes: ``session`` (an access token or session id plus ``instance_url``), ``password``
(username + password + security token, SOAP login) and ``jwt`` (OAuth JWT bearer flow:
username + connected app consumer key + private key).
"""

from __future__ import annotations

from typing import Any

from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from crm_audit_core.errors import ConfigError

from .i18n import _

HINTS = {
    "session": _("get a fresh access token / session id, or use the password or JWT mode"),
    "password": _("check username, password and security token, and the login domain ('test' for sandboxes)"),
    "jwt": _("check the consumer key, that the certificate on the connected app matches the private key, "
             "and that the user is pre-authorised for the app"),
}


def auth_mode(options: dict) -> str:
    """``session``, ``jwt`` or ``password``, from the credentials the options hold."""
    o = options
    if o.get("session_id"):
        if not o.get("instance_url"):
            raise ConfigError(_("session-id mode needs 'instance_url' ({example})",
                                example="https://<mydomain>.my.salesforce.com"), where="salesforce")
        return "session"
    if o.get("username") and o.get("consumer_key") and (o.get("private_key") or o.get("private_key_file")):
        return "jwt"
    if o.get("username") and o.get("password") and o.get("security_token") is not None:
        return "password"
    raise ConfigError(
        "no credentials: give session_id + instance_url, or username + password + security_token, "
        "or username + consumer_key + private_key(_file) for the JWT bearer flow", where="salesforce")


def client_kwargs(options: dict, mode: str, domain: str, version: str) -> dict:
    """The simple-salesforce constructor arguments for ``mode``."""
    o = options
    if mode == "session":
        return {"instance_url": o["instance_url"], "session_id": o["session_id"], "version": version}
    if mode == "jwt":
        kwargs = {"username": o["username"], "consumer_key": o["consumer_key"], "domain": domain,
                  "version": version}
        if o.get("private_key"):
            kwargs["privatekey"] = o["private_key"]
        else:
            kwargs["privatekey_file"] = o["private_key_file"]
        return kwargs
    return {"username": o["username"], "password": o["password"], "security_token": o["security_token"],
            "domain": domain, "version": version}


def endpoint(options: dict, mode: str, domain: str) -> str:
    """Where the connector talks to, for error messages: the instance, or the login host."""
    if mode == "session":
        return options["instance_url"]
    return options.get("login_url") or f"https://{domain}.salesforce.com"


def auth_failure(exc: Exception, mode: str) -> tuple[str, str]:
    """Salesforce's refusal of the credentials (or of an expired session): (message, hint)."""
    content: Any = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        detail = f"{content[0].get('errorCode')}: {content[0].get('message')}"
    elif isinstance(exc, SalesforceAuthenticationFailed):
        detail = f"{exc.code}: {exc.message}"
    else:
        detail = str(content or exc)
    detail = " ".join(str(detail).split())
    return _("Salesforce refused the credentials ({mode} mode): {detail}", mode=mode, detail=detail), HINTS[mode]
