"""data.policy-violations, the [policy] format, and `crm-audit policy init / validate`."""

import tomllib
from datetime import timedelta

import pytest
from click.testing import CliRunner

from crm_audit_checks.data_policy import parse_policy, register_commands
from crm_audit_core import ConfigError
from crm_audit_core.testing import assert_findings

SIZE = dict(contacts=800, seed=11)
CHECK = "data.policy-violations"


def blank(v):
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, list) and not v)


def test_skipped_without_a_policy(crm_audit_tenant, crm_audit_run_check):
    result = crm_audit_run_check(CHECK, crm_audit_tenant(**SIZE))
    assert result.status == "skipped" and "policy init" in result.reason


def test_every_violation_with_the_rule_it_breaks(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    contacts = tenant.rows("contacts")
    stages = sorted({c["lifecycle_stage"] for c in contacts if c["lifecycle_stage"]})
    allowed = stages[1:]  # one real stage left out: its contacts break the policy
    cutoff = tenant.as_of - timedelta(days=365)
    policy = {"policy": {"contacts": {"required": ["email", "lifecycle_stage"], "allowed": {"lifecycle_stage": allowed},
                                      "max_age_days": 365, "owner": "RevOps", "owners": {"email": "Marketing"}}}}
    result = crm_audit_run_check(CHECK, tenant, config=policy)
    expected = {}
    for c in contacts:
        why = []
        if blank(c["email"]):
            why.append("email is required")
        if blank(c["lifecycle_stage"]):
            why.append("lifecycle_stage is required")
        elif c["lifecycle_stage"] not in allowed:
            why.append(f"lifecycle_stage '{c['lifecycle_stage']}' is not an allowed value")
        if (c["updated_at"] or c["created_at"]) < cutoff:
            why.append("not updated for more than 365 days")
        if why:
            expected[c["id"]] = why
    assert_findings(result, expected)
    assert result.affected.object == "contacts"
    for rid, why in expected.items():
        text = result.details[rid]
        assert all(w in text for w in why) and text.endswith("owner: RevOps")
        assert ("(owner: Marketing)" in text) == ("email is required" in text)
    rules = result.metrics["violations_by_rule"]
    assert rules["contacts.allowed.lifecycle_stage"] == sum(1 for c in contacts if c["lifecycle_stage"] == stages[0])
    assert result.affected.population == len(contacts)


def test_several_objects_and_custom_fields(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    custom = tenant.custom_fields("contacts")[0]
    values = tenant.tables["contacts"].column(custom).to_pylist()
    ids = tenant.tables["contacts"].column("id").to_pylist()
    deals = tenant.rows("deals")
    policy = {"policy": {"contacts": {"required": [custom]}, "deals": {"required": ["amount"]}}}
    result = crm_audit_run_check(CHECK, tenant, config=policy)
    expected = [f"contacts/{i}" for i, v in zip(ids, values) if blank(v)]
    expected += [f"deals/{d['id']}" for d in deals if d["amount"] is None]
    assert_findings(result, expected)
    assert result.affected.object == "records"
    filled = sorted({str(v) for v in values if not blank(v)})
    allowed = crm_audit_run_check(CHECK, tenant, config={"policy": {"contacts": {"allowed": {custom: filled[1:]}}}})
    assert_findings(allowed, [i for i, v in zip(ids, values) if not blank(v) and str(v) == filled[0]])


def test_review_cadence(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(defects=False, **SIZE)
    policy = {"policy": {"review_every_days": 90, "last_reviewed": "2026-01-15", "contacts": {"max_age_days": 3650}}}
    result = crm_audit_run_check(CHECK, tenant, config=policy)
    assert result.status == "fail" and not result.affected.ids and "review was due Apr 15, 2026" in result.message
    policy["policy"]["last_reviewed"] = "2026-12-01"
    assert crm_audit_run_check(CHECK, tenant, config=policy).status == "pass"


@pytest.mark.parametrize("section,named", [
    ({"contacts": {"required": "email"}}, "policy.contacts.required"),
    ({"contacts": {"required": ["email", 3]}}, "policy.contacts.required[1]"),
    ({"contacts": {"allowed": {"lifecycle_stage": []}}}, "policy.contacts.allowed.lifecycle_stage"),
    ({"contacts": {"allowed": ["lead"]}}, "policy.contacts.allowed"),
    ({"contacts": {"max_age_days": "1y"}}, "policy.contacts.max_age_days"),
    ({"contacts": {"max_age_days": 0}}, "policy.contacts.max_age_days"),
    ({"activities": {"max_age_days": 30}}, "policy.activities.max_age_days"),
    ({"contacts": {"mandatory": ["email"]}}, "policy.contacts.mandatory"),
    ({"contact": {"required": ["email"]}}, "policy.contact"),
    ({"review_every_days": -1}, "policy.review_every_days"),
    ({"last_reviewed": "last week"}, "policy.last_reviewed"),
    ({"contacts": {"owner": ""}}, "policy.contacts.owner"),
    ({"contacts": ["email"]}, "policy.contacts"),
])
def test_invalid_policies_name_the_key(section, named):
    with pytest.raises(ConfigError) as err:
        parse_policy(section, "crm-audit.toml")
    assert named in str(err.value) and "crm-audit.toml" in str(err.value)


def test_contact_typo_hint():
    with pytest.raises(ConfigError, match=r"did you mean \[policy.contacts\]"):
        parse_policy({"contact": {"required": ["email"]}})


def test_unknown_field_is_an_error_naming_it(crm_audit_tenant, crm_audit_run_check):
    result = crm_audit_run_check(CHECK, crm_audit_tenant(**SIZE), config={"policy": {"contacts": {"required": ["emial"]}}})
    assert result.status == "error" and "policy.contacts.required" in result.reason and "'emial'" in result.reason


def test_hostile_allowed_values_are_data_not_sql(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(defects=False, **SIZE)
    hostile = ["lead'); DROP TABLE contacts; --", "$as_of", "고객"]
    result = crm_audit_run_check(CHECK, tenant, config={"policy": {"contacts": {"allowed": {"lifecycle_stage": hostile}}}})
    with_stage = [c["id"] for c in tenant.rows("contacts") if not blank(c["lifecycle_stage"])]
    assert_findings(result, with_stage)


def test_not_supplied_columns_are_noted(crm_audit_tenant, crm_audit_run_check):
    from types import SimpleNamespace

    tenant = crm_audit_tenant(defects=False, **SIZE)
    tables = dict(tenant.tables)
    tables["contacts"] = tables["contacts"].drop_columns(["lead_status"])
    stripped = SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)
    result = crm_audit_run_check(CHECK, stripped, config={"policy": {"contacts": {"required": ["lead_status"]}}})
    assert result.status == "pass" and "contacts.lead_status not supplied" in result.message
    tables.pop("deals")
    result = crm_audit_run_check(CHECK, stripped, config={"policy": {"deals": {"required": ["amount"]}}})
    assert result.status == "skipped" and "deals not supplied" in result.reason


# ------------------------------------------------------------------------- commands


@pytest.fixture(scope="module")
def cli():
    from crm_audit_core.cli import main

    if "policy" not in main.commands:
        register_commands(main)
    return main


def test_policy_init_proposes_a_policy_the_data_mostly_meets(cli, tmp_path, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(defects=False, **SIZE)
    folder = tmp_path / "export"
    tenant.write(folder)
    out = tmp_path / "policy.toml"
    run = CliRunner().invoke(cli, ["policy", "init", "--files", str(folder), "--as-of", "2026-12-31", "--out", str(out)])
    assert run.exit_code == 0, run.output
    text = out.read_text(encoding="utf-8")
    config = tomllib.loads(text)
    policy = parse_policy(config["policy"])
    contacts = policy.objects["contacts"]
    assert {"email", "first_name"} <= set(contacts.required)
    assert set(contacts.allowed["lifecycle_stage"]) == {c["lifecycle_stage"] for c in tenant.rows("contacts")}
    assert contacts.max_age_days in (30, 60, 90, 180, 365, 730)
    assert set(policy.objects) == {"contacts", "companies", "deals"}
    result = crm_audit_run_check(CHECK, tenant, config=config)
    assert result.status in ("pass", "fail")
    assert len(result.affected.ids) <= 0.25 * result.affected.population
    # the same command prints to stdout without --out, and validate accepts what init wrote
    printed = CliRunner().invoke(cli, ["policy", "init", "--files", str(folder), "--as-of", "2026-12-31"])
    assert printed.exit_code == 0 and printed.output == text
    valid = CliRunner().invoke(cli, ["policy", "validate", "-c", str(out)])
    assert valid.exit_code == 0 and "policy OK" in valid.output and "contacts:" in valid.output


def test_policy_init_leaves_rare_values_out(cli, tmp_path, crm_audit_tenant):
    import dataclasses

    import pyarrow as pa

    tenant = crm_audit_tenant(**SIZE)
    contacts = tenant.tables["contacts"]
    stages = contacts.column("lifecycle_stage").to_pylist()
    stages[3] = stages[5] = "Leed"  # a typo two records carry: too rare to be allowed
    tables = dict(tenant.tables)
    tables["contacts"] = contacts.set_column(contacts.column_names.index("lifecycle_stage"), "lifecycle_stage",
                                             pa.array(stages, pa.string()))
    folder = tmp_path / "export"
    dataclasses.replace(tenant, tables=tables).write(folder)
    run = CliRunner().invoke(cli, ["policy", "init", "--files", str(folder), "--as-of", "2026-12-31"])
    assert run.exit_code == 0, run.output
    policy = parse_policy(tomllib.loads(run.output)["policy"])
    counts = {}
    for v in stages:
        if not blank(v):
            counts[v] = counts.get(v, 0) + 1
    filled = sum(counts.values())
    common = {v for v, n in counts.items() if n >= 2 and 100.0 * n / filled >= 0.5}
    assert "Leed" not in common and "Leed" in counts
    assert set(policy.objects["contacts"].allowed["lifecycle_stage"]) == common
    assert '# left out as rare (typos?): "Leed" (2)' in run.output


def test_policy_commands_report_usage_errors(cli, tmp_path):
    run = CliRunner().invoke(cli, ["policy", "init"])
    assert run.exit_code == 2 and "exactly one of --files" in run.output
    bad = tmp_path / "crm-audit.toml"
    bad.write_text('[policy.contacts]\nrequired = "email"\n', encoding="utf-8")
    run = CliRunner().invoke(cli, ["policy", "validate", "-c", str(bad)])
    assert run.exit_code == 2 and "policy.contacts.required" in run.output


def test_policy_init_reads_a_configured_tenant(cli, tmp_path, crm_audit_tenant):
    tenant = crm_audit_tenant(defects=False, **SIZE)
    folder = tmp_path / "export"
    tenant.write(folder)
    config = tmp_path / "crm-audit.toml"
    config.write_text(f'[audit]\nas_of = "2026-12-31"\n\n[tenants.acme]\nconnector = "files"\npath = "{folder.as_posix()}"\n',
                      encoding="utf-8")
    run = CliRunner().invoke(cli, ["policy", "init", "-c", str(config)])
    assert run.exit_code == 0, run.output
    assert "from tenant 'acme' as of 2026-12-31" in run.output
    assert "contacts" in parse_policy(tomllib.loads(run.output)["policy"]).objects
    wrong = CliRunner().invoke(cli, ["policy", "init", "-c", str(config), "--tenant", "nope"])
    assert wrong.exit_code == 2 and "no tenant 'nope'" in wrong.output and "acme" in wrong.output


def test_policy_init_names_a_files_tenant_after_its_folder_as_run_does(cli, tmp_path, crm_audit_tenant):
    from crm_audit_core.tenant_access import tenant_name_from

    folder = tmp_path / "Acme export 2026"
    crm_audit_tenant(**SIZE).write(folder)
    run = CliRunner().invoke(cli, ["policy", "init", "--files", str(folder), "--as-of", "2026-12-31"])
    assert run.exit_code == 0, run.output
    assert tenant_name_from(folder.name) == "Acme-export-2026"
    assert "from tenant 'Acme-export-2026'" in run.output and "from tenant 'files'" not in run.output
