"""The score formula and its coverage, including the worked example of docs/scoring.md."""

from __future__ import annotations

from crm_audit_core.findings import Affected, Result
from crm_audit_core.scoring import MIN_COVERAGE, coverage_text, score, value_text, why_not_scored


def result(severity, status, n=0, population=None, area="data", check_id="x.y", tenant="t", obj="contacts"):
    return Result(check_id=check_id, title="t", step="missing-data", area=area, severity=severity, tenant=tenant,
                  status=status, affected=Affected(obj, [str(i) for i in range(n)], population))


def test_worked_example_from_docs():
    results = [
        result("high", "fail", 50, 1000, area="data"),     # 5% affected: impact 0.25 + 0.75*0.2 = 0.40
        result("medium", "pass", area="data"),
        result("low", "fail", 400, 1000, area="data"),     # 40% affected: impact 1.0
        result("critical", "fail", 1, 20, area="security"),  # 5%: impact 0.40
        result("high", "pass", area="security"),
        result("info", "fail", 10, 10, area="usage"),      # info never counts
        result("high", "skipped", area="usage"),           # skipped never counts
    ]
    s = score(results)
    # data: weights 5+3+1 = 9, lost 5*0.4 + 1*1.0 = 3.0 -> 100*(1-3/9) = 66.7
    # security: weights 10+5 = 15, lost 10*0.4 = 4.0 -> 73.3
    # overall: weights 24, lost 7.0 -> 70.8
    assert (s["overall"], s["areas"]) == (70.8, {"security": 73.3, "data": 66.7})
    # 6 applicable (F is info), 5 judged (G skipped); usage has 1 applicable, 0 judged: n/a
    assert s["coverage"] == {"checks_run": 5, "checks_applicable": 6, "records_judged": 1000, "threshold": MIN_COVERAGE,
                             "areas": {"usage": {"checks_run": 0, "checks_applicable": 1},
                                       "security": {"checks_run": 2, "checks_applicable": 2},
                                       "data": {"checks_run": 3, "checks_applicable": 3}}}
    assert s["tenants"]["t"]["overall"] == 70.8


def test_all_pass_is_100_and_nothing_counted_is_none():
    assert score([result("high", "pass")])["overall"] == 100.0
    s = score([result("info", "fail", 3, 3)])
    assert (s["overall"], s["areas"]) == (None, {})
    assert (s["coverage"]["checks_run"], s["coverage"]["checks_applicable"]) == (0, 0)


def test_accepted_findings_leave_the_score():
    r = result("critical", "fail", 5, 10)
    r.accepted = True
    assert score([r, result("low", "pass")])["overall"] == 100.0


def test_a_pass_over_no_records_judges_nothing():
    """The issue's case: headers not recognised, so the one check that ran passed on "0 of 0"."""
    vacuous = result("low", "pass", 0, 0)
    skipped = [result("high", "skipped", check_id=f"s.{i}") for i in range(40)]
    s = score([vacuous, *skipped])
    assert s["overall"] is None and s["areas"] == {}
    assert (s["coverage"]["checks_run"], s["coverage"]["checks_applicable"], s["coverage"]["records_judged"]) == (0, 41, 0)
    assert why_not_scored(s["coverage"]) == "fewer than 25% of the applicable checks were judged"
    # a pass over records it examined is a judgement; a fail always is
    assert score([result("low", "pass", 0, 10)])["overall"] == 100.0
    assert score([result("low", "fail", 0, 0, )])["overall"] == 0.0


def test_too_little_judged_is_na_at_the_threshold_a_number():
    def audit(judged, applicable):
        return [result("medium", "pass", 0, 5, check_id=f"p.{i}") for i in range(judged)] + \
               [result("medium", "skipped", check_id=f"s.{i}") for i in range(applicable - judged)]

    assert MIN_COVERAGE == 0.25
    assert score(audit(1, 5))["overall"] is None           # 20%
    assert score(audit(1, 4))["overall"] == 100.0          # 25%: exactly the threshold
    errored = audit(1, 4)
    errored[-1].status = "error"                           # an error is applicable, not judged
    assert score(errored)["coverage"]["checks_run"] == 1
    # info checks are not applicable: they neither help nor hurt coverage
    assert score(audit(1, 4) + [result("info", "skipped", check_id="i.1")])["coverage"]["checks_applicable"] == 4


def test_areas_and_tenants_get_their_own_coverage():
    results = [result("high", "fail", 5, 10, area="data", tenant="a", check_id="d.1"),
               result("high", "pass", 0, 10, area="data", tenant="a", check_id="d.2"),
               result("high", "skipped", area="security", tenant="a", check_id="s.1"),
               result("high", "skipped", area="security", tenant="a", check_id="s.2"),
               result("high", "skipped", area="data", tenant="b", check_id="d.1"),
               result("high", "skipped", area="data", tenant="b", check_id="d.2")]
    s = score(results)
    assert s["areas"] == {"data": 50.0}                    # security: 0 of 2 judged, so no number
    assert s["coverage"]["areas"]["security"] == {"checks_run": 0, "checks_applicable": 2}
    assert s["overall"] == 50.0 and s["coverage"]["checks_run"] == 2 and s["coverage"]["checks_applicable"] == 6
    assert s["tenants"]["a"]["overall"] == 50.0
    assert s["tenants"]["b"]["overall"] is None and s["tenants"]["b"]["coverage"]["checks_applicable"] == 2


def test_records_judged_is_the_largest_population_per_tenant_and_object():
    results = [result("low", "pass", 0, 100, check_id="a"), result("low", "pass", 0, 80, check_id="b"),
               result("low", "pass", 0, 7, obj="users", check_id="c"),
               result("low", "pass", 0, 50, tenant="u", check_id="a"),
               result("low", "skipped", 0, 999, check_id="d")]  # not judged: its population does not count
    assert score(results)["coverage"]["records_judged"] == 100 + 7 + 50


def test_texts_never_say_none():
    assert value_text(None) == "n/a" and value_text(70) == "70.0"
    assert coverage_text(None) == "" and coverage_text({"overall": 1}) == ""
    assert coverage_text({"checks_run": 1, "checks_applicable": 4, "records_judged": 1}) == "1 of 4 checks judged, 1 record"
    assert coverage_text({"checks_run": 3, "checks_applicable": 4, "records_judged": 2000}, records=False) == "3 of 4 checks judged"


def test_tenant_scores_of_audits_archived_before_they_were_stored():
    from crm_audit_core.scoring import tenant_scores

    results = [result("high", "pass", 0, 5, tenant="a", check_id="x.1"), result("high", "skipped", tenant="b", check_id="x.1")]
    stored = score(results)
    assert tenant_scores(stored, results, ["a", "b"]) == stored["tenants"]
    old = {"overall": 100.0, "areas": {"data": 100.0}}     # what an older crm-audit archived
    recomputed = tenant_scores(old, results, ["a", "b"])
    assert recomputed["a"]["overall"] == 100.0 and recomputed["b"]["overall"] is None
    assert tenant_scores(old, results[:1], ["a"]) == {"a": {"overall": 100.0, "areas": {"data": 100.0}, "coverage": None}}
