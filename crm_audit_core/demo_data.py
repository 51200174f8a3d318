"""What ``crm-audit demo`` gives the audit besides the CRMs: the users' survey answers and
a data policy, as ``crm-audit survey init`` (filled in by the users) and ``crm-audit
policy init`` would write them, so steps 5 (feedback) and Data 6 (policy) run too.

The answers are sample answers, deterministic per tenant: most active users answer (in
English, Indonesian or Korean), a few do not, so the survey's response rate and
non-respondents are real findings. The file format is the questionnaire's (see
docs/checks/feedback.user-survey.md): ``user_id, name, email`` and one column a question.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SURVEY_COLUMNS = ("user_id", "name", "email", "how_often", "easier", "harder", "favourite_feature", "lets_down", "rating")

# (how_often, easier, harder, favourite_feature, lets_down, rating)
SAMPLE_ANSWERS = (
    ("daily", "I see every deal and its next step in one place", "Duplicate contacts from the newsletter sync",
     "the pipeline board", "Duplicate contacts and slow search", "4"),
    ("daily", "Reminders for follow-up calls", "Too many required fields when logging a call",
     "task reminders", "Logging calls takes too many clicks", "3"),
    ("weekly", "Reports for the weekly sales meeting", "Duplicate contacts from the newsletter sync",
     "dashboards", "Reports are slow at month end", "4"),
    ("daily", "Semua data pelanggan ada di satu tempat", "Banyak kontak ganda dari sinkronisasi newsletter",
     "papan pipeline", "Kontak ganda dan pencarian lambat", "4"),
    ("weekly", "Pengingat tindak lanjut", "Terlalu banyak kolom wajib", "pengingat tugas",
     "Laporan lambat di akhir bulan", "3"),
    ("daily", "고객 정보를 한곳에서 볼 수 있습니다", "뉴스레터 동기화로 중복 연락처가 생깁니다", "파이프라인 보드",
     "중복 연락처와 느린 검색", "4"),
    ("monthly", "거래 현황 보고서", "필수 입력 항목이 너무 많습니다", "대시보드", "월말에 보고서가 느립니다", "3"),
    ("rarely", "Not much: I keep my own spreadsheet", "Nobody told me which fields matter",
     "the mobile app", "Training: nobody showed me how to use it", "2"),
)

# A policy as `crm-audit policy init` proposes it for a typical tenant: the fields nearly
# every record has are required, the lifecycle stages are the canonical ones.
DEMO_POLICY = {
    "review_every_days": 90,
    "owner": "RevOps",
    "contacts": {
        "required": ["email", "last_name", "owner_id"],
        "allowed": {"lifecycle_stage": ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                                        "opportunity", "customer", "evangelist", "other"]},
        "max_age_days": 1095,
    },
    "companies": {"required": ["name", "owner_id"], "max_age_days": 1095},
    "deals": {"required": ["name", "amount", "close_date", "owner_id"], "owner": "Sales operations"},
}


def write_survey_answers(tenant, path: Path, *, share: float = 0.8) -> Path:
    """Sample answers from the tenant's active human users (``share`` of them answer)."""
    rng = random.Random(f"{tenant.name}:{tenant.seed}:survey")
    users = [u for u in tenant.rows("users") if u.get("is_active") and (u.get("role") or "") != "integration"]
    users.sort(key=lambda u: str(u["id"]))
    answering = [u for u in users if rng.random() < share]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(SURVEY_COLUMNS)
        for u in answering:
            # user_id is left empty: the CRM's own user ids differ from the generator's; the
            # survey check matches answers by e-mail address as well.
            out.writerow(["", u.get("name") or "", u.get("email") or "", *rng.choice(SAMPLE_ANSWERS)])
    return path
