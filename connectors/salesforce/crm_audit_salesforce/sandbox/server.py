"""Starting the sandbox: builds the org from a canonical tenant, serves the WSGI app over
HTTPS on 127.0.0.1 (an ephemeral port; a throwaway CA made at start with trustme, since
simple-salesforce only speaks https) and hands back a :class:`SandboxHandle`."""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from crm_audit_core.connector import SandboxHandle

from .app import SalesforceSandbox
from .builder import build_org
from .org import tenant_as_of


class _QuietHandler(WSGIRequestHandler):
    """The request log is ``handle.requests``; keep stderr clean."""

    def log_request(self, *args, **kwargs) -> None:
        pass

    def log(self, *args, **kwargs) -> None:
        pass


def start_sandbox(tenant: Any, *, token: str = "sandbox-token", rate_limit=None, as_of=None, **kwargs) -> SandboxHandle:
    """Serve ``tenant`` as a Salesforce org over HTTPS on 127.0.0.1 (ephemeral port).

    Keyword options: ``rate_limit`` (calls per second, or ``(calls, seconds)``; over it a
    403 ``REQUEST_LIMIT_EXCEEDED``), ``daily_limit`` / ``api_used`` (``Sforce-Limit-Info``),
    ``slow_seconds`` (the "slow" fault), ``bulk_in_progress_polls`` (job-info polls that
    answer ``InProgress``), ``login_history=False`` / ``mfa_info=False`` /
    ``record_count_access=False`` (the audit user lacks the permission), ``record_counts``
    (object -> the count ``limits/recordCount`` reports, e.g. stale ones),
    ``limit_info_on_refusal=False`` (the daily allowance's 403 without ``Sforce-Limit-Info``),
    ``username``/``password``/``security_token``/``consumer_key``/``public_key`` (login
    emulation), and connector options to pass through (``connector_options``).
    """
    import trustme

    when = tenant_as_of(tenant, as_of)
    connector_options = dict(kwargs.pop("connector_options", {}) or {})
    org = build_org(tenant, when, connector_options)
    app = SalesforceSandbox(org, token, rate_limit=rate_limit, **kwargs)

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    folder = tempfile.mkdtemp(prefix="crm-audit-sf-sandbox-")
    ca_path = os.path.join(folder, "ca.pem")
    ca.cert_pem.write_to_path(ca_path)

    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context,
                         request_handler=_QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="salesforce-sandbox", daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_port}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        shutil.rmtree(folder, ignore_errors=True)

    options = {"instance_url": url, "session_id": token, "ca_bundle": ca_path, "api_version": org.api_version,
               **connector_options}
    read_only = tuple(f"/services/data/v{v}/jobs/query" for v in org.versions) + (
        "/services/oauth2/token", "/services/Soap/u/")
    return SandboxHandle(url=url, options=options, stop=stop, requests=app.requests, inject=app.inject,
                         read_only_posts=read_only,
                         extra={"ids": dict(org.ids), "org": org, "app": app, "ca_bundle": ca_path, "as_of": when})
