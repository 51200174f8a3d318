"""The canonical schema: the tables every connector fills and every check reads.

This module is the contract of ``shared/DESIGN.md`` held as data, so that the store,
the files connector, the report schema and the docs all read the same definition.

Types are logical: ``str``, ``int``, ``float``, ``bool``, ``timestamp`` (UTC, stored
without a zone), ``list`` (a list of strings; in CSV ``;``-separated) and ``json``.
Every table also has ``tenant`` (the configured tenant name) and ``raw`` (the vendor's
record as JSON), which the store adds; connectors and files supply the columns below.

Custom fields are not columns of the canonical tables in the store: they are kept, one
value a row, in ``custom_values`` (tenant, object, record_id, field, value), which stays
compact for portals with thousands of sparse custom properties. The ``fields`` table says
which fields exist and which are custom.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOGICAL_TYPES = ("str", "int", "float", "bool", "timestamp", "list", "json")

DUCKDB_TYPES = {
    "str": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "list": "VARCHAR[]",
    "json": "VARCHAR",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "str"
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in LOGICAL_TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    # The object name used in fix-lists and record links ("contact", "deal", ...).
    object_name: str = ""
    key: str = "id"
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}")


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse 'name:type, name2, ...' (type defaults to str)."""
    out = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, typ = part.partition(":")
        out.append(Column(name.strip(), (typ or "str").strip()))
    return tuple(out)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "users",
            "People with a login to the CRM, including integration/API users and guest users"
            " (role 'guest': the public site or form user, not a person). profile: the profile"
            " or base role the vendor assigns; is_frozen: login blocked without deactivation;"
            " api_only: may log in through the API only; license: the user licence's name.",
            _cols(
                "id, name, email, role, is_active:bool, is_admin:bool, last_login_at:timestamp,"
                " created_at:timestamp, mfa_enabled:bool, profile, is_frozen:bool, api_only:bool, license"
            ),
            object_name="user",
        ),
        Table(
            "login_events",
            "Login history: one row a login attempt. api_type and api_version: the API an"
            " integration logged in through and its version (empty for browser logins);"
            " login_type: the vendor's kind of login (e.g. 'Application', 'Remote Access 2.0').",
            _cols("id, user_id, at:timestamp, ip, status, application, api_type, api_version, login_type"),
            object_name="login",
        ),
        Table(
            "companies",
            "Companies / accounts / organizations.",
            _cols(
                "id, name, domain, industry, phone, street, city, state, postal_code, country,"
                " owner_id, source, source_detail, created_at:timestamp, updated_at:timestamp"
            ),
            object_name="company",
        ),
        Table(
            "contacts",
            "People: contacts, persons, leads.",
            _cols(
                "id, first_name, last_name, email, phone, title, company_id, company_name,"
                " lifecycle_stage, lead_status, segments:list, owner_id, street, city, state,"
                " postal_code, country, source, source_detail, email_bounced:bool,"
                " created_at:timestamp, updated_at:timestamp, last_activity_at:timestamp"
            ),
            object_name="contact",
        ),
        Table(
            "deals",
            "Deals / opportunities. stage holds the stage's id (stages.id); pipeline the"
            " pipeline's name or id, the same value as stages.pipeline.",
            _cols(
                "id, name, amount:float, currency, pipeline, stage, is_closed:bool, is_won:bool,"
                " close_date:timestamp, lost_reason, owner_id, company_id, contact_id, source,"
                " source_detail, created_at:timestamp, updated_at:timestamp, last_activity_at:timestamp"
            ),
            object_name="deal",
        ),
        Table(
            "stages",
            "Pipeline stages as the CRM defines them (whether or not any deal uses them);"
            " deals.stage refers to stages.id.",
            _cols("id, pipeline, name, position:int, is_closed:bool, is_won:bool"),
            object_name="stage",
        ),
        Table(
            "activities",
            "Calls, emails, meetings, SMS, notes and tasks.",
            _cols(
                "id, type, subject, owner_id, contact_id, company_id, deal_id, due_at:timestamp,"
                " is_done:bool, completed_at:timestamp, created_at:timestamp"
            ),
            object_name="activity",
        ),
        Table(
            "campaigns",
            "Marketing emails, surveys and campaigns with their counts.",
            _cols(
                "id, name, type, sent:int, delivered:int, opened:int, responses:int,"
                " started_at:timestamp, source"
            ),
            object_name="campaign",
        ),
        Table(
            "fields",
            "Field definitions per object; is_custom marks custom fields.",
            _cols("object, name, label, type, is_custom:bool, created_at:timestamp"),
            object_name="field",
            key="name",
        ),
        Table(
            "integrations",
            "Connected systems: apps, syncs, API users.",
            _cols(
                "id, name, kind, status, last_sync_at:timestamp, created_at:timestamp,"
                " records_reported:int"
            ),
            object_name="integration",
        ),
        Table(
            "sync_counts",
            "Counts the other side of an integration reports (a mailing tool's audience, an"
            " accounting package's invoices), read by integration probes or given as a file:"
            " one row a count. key names one item (a campaign's or survey's name in the other"
            " system) or is empty for a total; value is empty when the count could not be read,"
            " and missing then says why.",
            _cols(
                "id, probe, integration, object, key, measure, value:int, source, missing,"
                " observed_at:timestamp"
            ),
            object_name="sync count",
        ),
        Table(
            "permissions",
            "Who holds which powerful permission, and through what: one row a user and"
            " permission and grant. permission: a canonical name (modify_all_data,"
            " view_all_data, manage_users, author_apex, customize_application, super_admin,"
            " admin, manage_permissions) or the vendor's own name lower-cased (api_enabled,"
            " export_data, or '<access>:<object>' for object access such as 'read:contact');"
            " via: profile, permission_set, permission_set_group, role or user (set on the user"
            " itself); via_name: that profile's, set's or role's name.",
            _cols("id, user_id, permission, via, via_name"),
            object_name="permission",
        ),
        Table(
            "security_settings",
            "The vendor's security baseline, one row a setting (e.g. Salesforce Health Check):"
            " the org's value, the recommended value and the risk (high, medium, low, meets).",
            _cols("id, group, setting, org_value, recommended_value, risk, source"),
            object_name="security setting",
        ),
        Table(
            "oauth_grants",
            "Apps holding access to the CRM on a user's behalf (OAuth tokens, connected or"
            " private apps, webhooks): when created and last used, how often, their scope (free"
            " text, e.g. 'all users may self-authorize', 'full') and url (a webhook's target or"
            " an app's callback).",
            _cols("id, app, user_id, created_at:timestamp, last_used_at:timestamp, use_count:int, scope, url"),
            object_name="app access",
        ),
        Table(
            "audit_trail",
            "Setup changes: who changed what part of the CRM's configuration, and when.",
            _cols("id, user_id, action, section, display, created_at:timestamp"),
            object_name="setup change",
        ),
        Table(
            "packages",
            "Installed packages (managed packages, marketplace apps): version, install date,"
            " state (e.g. installed, deprecated, beta) and the latest version published.",
            _cols("id, name, namespace, version, installed_at:timestamp, state, latest_version"),
            object_name="package",
        ),
        Table(
            "platform",
            "One row a tenant: vendor, edition and API versions; security_score: the vendor's own"
            " security baseline score (0-100, e.g. Salesforce Health Check) and"
            " security_score_source what gave it.",
            _cols(
                "vendor, edition, api_version_used, api_version_latest,"
                " api_versions_deprecated:list, security_score:float, security_score_source"
            ),
            object_name="platform",
            key="vendor",
        ),
    )
}

# Tables whose rows may carry custom fields (fields.object names these tables).
CUSTOM_FIELD_TABLES = ("companies", "contacts", "deals", "activities")

# Vocabularies the checks rely on.
ACTIVITY_TYPES = ("call", "email", "meeting", "sms", "note", "task")
SOURCES = ("ui", "import", "form", "api", "integration")
LOGIN_STATUSES = ("success", "failure")
# integrations.status: "active" (connected and meant to run), "inactive" (switched off,
# revoked, uninstalled), "error" (the vendor reports it failing, e.g. a webhook whose last
# delivery failed). Empty when the vendor does not say.
INTEGRATION_STATUSES = ("active", "inactive", "error")
# security_settings.risk: how far the org's value is from the recommended one.
SETTING_RISKS = ("high", "medium", "low", "meets")
# permissions.via: what grants the permission.
PERMISSION_VIAS = ("profile", "permission_set", "permission_set_group", "role", "user")
# Enumerated columns: the values the checks understand. A value outside the list (after
# the synonyms below) is "unrecognised": it is reported by data.unrecognised-values, and a
# check that needs the column is skipped rather than passed on rows it could not judge.
VOCABULARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("integrations", "status"): INTEGRATION_STATUSES,
    ("login_events", "status"): LOGIN_STATUSES,
    ("contacts", "source"): SOURCES,
    ("companies", "source"): SOURCES,
    ("deals", "source"): SOURCES,
    ("activities", "type"): ACTIVITY_TYPES,
    ("security_settings", "risk"): SETTING_RISKS,
    ("permissions", "via"): PERMISSION_VIAS,
}
# Common ways exports and other tools write the same values (compared lower-cased and
# trimmed); the store rewrites them to the canonical value before the checks run.
SYNONYMS: dict[tuple[str, ...], dict[str, str]] = {
    INTEGRATION_STATUSES: {
        "connected": "active", "enabled": "active", "running": "active", "ok": "active", "on": "active",
        "live": "active", "healthy": "active", "syncing": "active",
        "disconnected": "inactive", "paused": "inactive", "disabled": "inactive", "off": "inactive",
        "revoked": "inactive", "uninstalled": "inactive", "stopped": "inactive", "archived": "inactive",
        "failed": "error", "failing": "error", "broken": "error", "errored": "error",
    },
    LOGIN_STATUSES: {
        "ok": "success", "succeeded": "success", "successful": "success", "login": "success",
        "failed": "failure", "fail": "failure", "denied": "failure", "blocked": "failure", "error": "failure",
    },
    SOURCES: {
        "manual": "ui", "manually created": "ui", "manuallycreated": "ui", "crm_ui": "ui", "crm ui": "ui",
        "sales": "ui", "csv import": "import", "imported": "import", "web form": "form", "webform": "form",
        "webforms": "form", "forms": "form", "api call": "api", "app": "integration", "sync": "integration",
        "marketplace app": "integration",
    },
    SETTING_RISKS: {
        "high_risk": "high", "high risk": "high", "critical": "high", "medium_risk": "medium",
        "medium risk": "medium", "low_risk": "low", "low risk": "low", "meets_standard": "meets",
        "meets standard": "meets", "compliant": "meets", "ok": "meets", "pass": "meets",
    },
    PERMISSION_VIAS: {
        "permissionset": "permission_set", "permission set": "permission_set",
        "permissionsetgroup": "permission_set_group", "permission set group": "permission_set_group",
        "direct": "user",
    },
    ACTIVITY_TYPES: {
        "phone": "call", "phone call": "call", "e-mail": "email", "mail": "email", "todo": "task",
        "to-do": "task", "to do": "task", "text": "sms", "text message": "sms", "meetings": "meeting",
    },
}
# How a deal ended, from its stage's name, for exports that give the stage's label but
# not the closed/won flags (compared lower-cased and trimmed): name -> (is_closed, is_won).
STAGE_OUTCOMES: dict[str, tuple[bool, bool]] = {
    "closed won": (True, True), "won": (True, True), "closed - won": (True, True), "closedwon": (True, True),
    "closed lost": (True, False), "lost": (True, False), "closed - lost": (True, False), "closedlost": (True, False),
}
# sync_counts.measure: what a count of the other system counts.
# "records": every record of the object the integration syncs; "won": the won deals only
# (an accounting package's invoices); the others are a mailing tool's member statuses and
# a campaign's or survey's counts.
SYNC_MEASURES = ("records", "won", "subscribed", "unsubscribed", "cleaned", "pending", "archived",
                 "recipients", "sent", "delivered", "opened", "bounced", "responses")

STEPS = (
    "usage-review",
    "updates",
    "integrations",
    "value",
    "open-work",
    "feedback",
    "security",
    "unused-data",
    "segmentation",
    "duplicates",
    "missing-data",
    "stale-data",
    "data-policy",
    "continuous",
)

STEP_TITLES = {
    "usage-review": "Usage review",
    "updates": "1. Updates",
    "integrations": "2. Integrations work as expected",
    "value": "3. Conversion and value",
    "open-work": "4. Unfinished tasks and deals",
    "feedback": "5. Feedback from every CRM user",
    "security": "6. Safety and security",
    "unused-data": "Data 1. Remove unused data",
    "segmentation": "Data 2. Review segmentation",
    "duplicates": "Data 3. Clean redundant data",
    "missing-data": "Data 4. Find missing data",
    "stale-data": "Data 5. Keep data current",
    "data-policy": "Data 6. A data-management process",
    "continuous": "Continuous evaluation",
}

AREAS = ("usage", "security", "data")

SEVERITIES = ("critical", "high", "medium", "low", "info")


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown canonical table {name!r}; known: {', '.join(TABLES)}") from None
