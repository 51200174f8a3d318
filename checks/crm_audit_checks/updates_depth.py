"""Standard checks: updates in depth (Part 1, step 1; issue 16).

Beyond the API version the connector itself uses (``updates``): the installed packages
and their versions (``packages``: Salesforce ``InstalledSubscriberPackage``), and the API
versions each integration still calls (``login_events.api_version``: Salesforce
``LoginHistory.ApiVersion`` and ``ApiType``), compared with the versions the vendor has
retired or deprecated (``platform.api_versions_deprecated``). Versions are compared by
their numbers (``updates.version_key``).
"""

from __future__ import annotations

from crm_audit_core import Message, check

from .i18n import _, ngettext
from .updates import version_key

DEPRECATED_STATES = ["deprecated", "end of life", "retired", "unsupported"]


def _major(text) -> int | None:
    key = version_key(text)
    return key[0] if key else None


@check(
    id="updates.outdated-packages",
    title="Installed packages that are outdated or deprecated",
    step="updates",
    area="usage",
    severity="medium",
    needs={"packages": ["id", "name", "version", "state", "latest_version"]},
    vendors=("salesforce",),
    settings={"major_versions_behind": 1, "deprecated_states": DEPRECATED_STATES},
    settings_help={"major_versions_behind": "a package this many major versions behind its latest is outdated",
                   "deprecated_states": "package states (lower case) that mean its publisher no longer supports it"},
    description=(
        "Installed packages (managed packages, AppExchange apps) several major versions behind, or deprecated "
        "by their publisher, miss security fixes and break when the CRM's release moves on."
    ),
    remediation=(
        "Upgrade each package listed to its latest version (read its release notes and test in a sandbox "
        "first); replace or uninstall the deprecated ones."
    ),
    references=(
        "https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/"
        "tooling_api_objects_installedsubscriberpackage.htm",
    ),
)
def outdated_packages(ctx):
    behind = int(ctx.settings["major_versions_behind"])
    states = {str(s).strip().lower() for s in ctx.settings["deprecated_states"]}
    rows = ctx.rows("SELECT id, name, version, state, latest_version FROM packages ORDER BY id")
    details, outdated, deprecated, unknown = {}, 0, 0, 0
    for r in rows:
        why = []
        if str(r["state"] or "").strip().lower() in states:
            why.append(_("its publisher marks version {version} {state}", version=str(r["version"]), state=str(r["state"])))
            deprecated += 1
        have, latest = _major(r["version"]), _major(r["latest_version"])
        if have is None or latest is None:
            unknown += 1
        elif latest - have >= behind:
            why.append(ngettext("version {version} is {n} major version behind {latest}",
                                "version {version} is {n} major versions behind {latest}",
                                latest - have, version=str(r["version"]), latest=str(r["latest_version"])))
            outdated += 1
        if why:
            details[str(r["id"])] = _("{name}: {problems}", name=str(r["name"]), problems=Message.join(why, "; "))
    message = ngettext("{count} of {n} installed package is outdated ({outdated}) or deprecated ({deprecated})",
                       "{count} of {n} installed packages are outdated ({outdated}) or deprecated ({deprecated})",
                       len(rows), count=len(details), outdated=outdated, deprecated=deprecated)
    if unknown:
        unknown_text = ngettext("the latest version of {n} package is not known",
                                "the latest version of {n} packages is not known", unknown)
        message = Message.join([message, unknown_text], "; ")
    return ctx.result(ids=sorted(details), population=len(rows), details=details,
                      metrics={"packages": len(rows), "outdated": outdated, "deprecated": deprecated,
                               "latest_unknown": unknown},
                      message=message)


@check(
    id="updates.clients-on-old-api-versions",
    title="Integrations still calling retired API versions",
    step="updates",
    area="usage",
    severity="high",
    needs={"login_events": ["user_id", "at", "status", "application", "api_type", "api_version"],
           "platform": ["api_versions_deprecated"]},
    object="users",
    vendors=("salesforce",),
    settings={"days": 90},
    settings_help={"days": "API logins are read for this many days before the audit date"},
    description=(
        "Integrations that log in through an API version the vendor has retired or deprecated (Salesforce "
        "API 21.0 to 30.0 were retired in Summer '25) stop the day the version is switched off: the calls "
        "fail and the sync silently ends."
    ),
    remediation=(
        "For each user and application listed, upgrade the integration (Data Loader, middleware, custom code) "
        "to a supported API version and test it in a sandbox before the vendor's retirement date."
    ),
    references=(
        "https://help.salesforce.com/s/articleView?id=000354473&type=1",
        "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
        "sforce_api_objects_loginhistory.htm",
    ),
)
def clients_on_old_api_versions(ctx):
    days = int(ctx.settings["days"])
    listed = ctx.rows("SELECT unnest(api_versions_deprecated) AS v FROM platform")
    retired = sorted({str(r["v"]) for r in listed if r["v"] and version_key(r["v"])}, key=version_key)
    if not retired:
        return ctx.skip(_("the platform table lists no retired or deprecated API versions to compare with"))
    newest = version_key(retired[-1])
    rows = ctx.rows(
        "SELECT user_id, application, api_type, api_version, count(*) AS logins, max(\"at\") AS last "
        "FROM login_events WHERE \"at\" >= $as_of - to_days($days) AND api_version IS NOT NULL "
        "AND lower(coalesce(status, 'success')) = 'success' GROUP BY ALL ORDER BY user_id", days=days)
    clients = {str(r["user_id"]) for r in rows if r["user_id"] is not None}
    details: dict[str, list] = {}
    for r in rows:
        key = version_key(r["api_version"])
        if r["user_id"] is None or not key or key > newest:
            continue
        application = str(r["application"]) if r["application"] else _("an application")
        api = str(r["api_type"]) if r["api_type"] else _("the API")
        details.setdefault(str(r["user_id"]), []).append(
            ngettext("{application} through {api} version {version} ({n} login, last {last})",
                     "{application} through {api} version {version} ({n} logins, last {last})",
                     int(r["logins"]), application=application, api=api, version=str(r["api_version"]),
                     last=r["last"]))
    reasons = {uid: _("logs in with a retired API version: {clients}", clients=Message.join(items, "; "))
               for uid, items in details.items()}
    return ctx.result(ids=sorted(details), population=len(clients), details=reasons,
                      metrics={"api_clients": len(clients), "retired_versions": retired, "days": days},
                      message=ngettext("{count} of {n} API client logged in through a retired or deprecated API "
                                       "version (up to {newest}) in the last {days} days",
                                       "{count} of {n} API clients logged in through a retired or deprecated API "
                                       "version (up to {newest}) in the last {days} days",
                                       len(clients), count=len(details), newest=retired[-1], days=days))


CHECKS = (outdated_packages, clients_on_old_api_versions)
