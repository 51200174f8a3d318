"""``crm-audit demo``: audit generated tenants end to end without an account.

Every installed connector that offers a sandbox (``ConnectorInfo.sandbox``) serves its
own generated tenant on 127.0.0.1 and is audited through the real connector over HTTP.
When no connector offers one, a generated tenant is audited through the files
connector. The core names no CRM: it only asks the registry.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

from .config import AuditConfig, TenantConfig
from .demo_data import DEMO_POLICY, write_survey_answers
from .plugins import build_plugin_manager
from .runner import run_audit


def run_demo(*, out: Path, contacts: int = 2000, seed: int = 7, progress=None, debug: bool = False,
             use_sandboxes: bool = True, console: Console | None = None, lang: str = "en"):
    from .sandbox import generate_tenant

    console = console or Console(stderr=True)
    registry = build_plugin_manager()
    for failure in registry.failures:
        console.print(f"[yellow]warning[/yellow] {failure}")
    as_of = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    config = AuditConfig(as_of=as_of, out=out, debug=debug, lang=lang)
    config.sections["value"] = {"cost": 24000, "gain": 61000}
    # Step Data 6: the policy `crm-audit policy init` would propose for such a tenant.
    config.sections["policy"] = json.loads(json.dumps(DEMO_POLICY))
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crm-audit-demo-")))
        probes = sorted((i for i in registry.probes.values() if i.sandbox), key=lambda i: i.name)

        def add_tenant(tenant, connector: str, options: dict) -> None:
            # Step 5: the users' answers to `crm-audit survey init`'s questionnaire.
            answers = write_survey_answers(tenant, work / f"survey-{tenant.name}.csv")
            config.sections.setdefault("survey", {})[tenant.name] = {"answers": str(answers)}
            # Step 2: the other side of the integrations, served next to the CRM.
            wired = {}
            for probe in probes:
                handle = stack.enter_context(probe.sandbox(tenant))
                wired[probe.name] = dict(handle.options)
            config.tenants.append(TenantConfig(tenant.name, connector, options, probes=wired))

        sandboxes = [i for i in registry.connectors.values() if i.sandbox] if use_sandboxes else []
        for n, info in enumerate(sorted(sandboxes, key=lambda i: i.name)):
            tenant = generate_tenant(contacts=contacts, seed=seed + n, name=f"demo-{info.name}", as_of=as_of)
            handle = stack.enter_context(info.sandbox(tenant))
            add_tenant(tenant, info.name, dict(handle.options))
            console.print(f"sandbox {info.name} serving {contacts} contacts at {handle.url}")
        if not config.tenants:
            folder = work / "demo-files"
            tenant = generate_tenant(contacts=contacts, seed=seed, name="demo-files", as_of=as_of)
            tenant.write(folder)
            add_tenant(tenant, "files", {"path": str(folder)})
            console.print(f"no connector offers a sandbox: auditing a generated tenant from files ({contacts} contacts)")
        if probes:
            console.print(f"probes {', '.join(p.name for p in probes)} serving the other side of the integrations")
        return run_audit(config, registry=registry, console=console, progress=progress)
