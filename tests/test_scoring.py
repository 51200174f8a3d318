"""The score formula, including the worked example of docs/scoring.md."""

from __future__ import annotations

from crm_audit_core.findings import Affected, Result
from crm_audit_core.scoring import score


def result(severity, status, n=0, population=None, area="data", check_id="x.y"):
    return Result(check_id=check_id, title="t", step="missing-data", area=area, severity=severity, tenant="t",
                  status=status, affected=Affected("contacts", [str(i) for i in range(n)], population))


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
    assert s == {"overall": 70.8, "areas": {"security": 73.3, "data": 66.7}}


def test_all_pass_is_100_and_nothing_counted_is_none():
    assert score([result("high", "pass")])["overall"] == 100.0
    assert score([result("info", "fail", 3, 3)]) == {"overall": None, "areas": {}}


def test_accepted_findings_leave_the_score():
    r = result("critical", "fail", 5, 10)
    r.accepted = True
    assert score([r, result("low", "pass")])["overall"] == 100.0
