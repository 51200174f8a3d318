"""Standard checks: feedback from every CRM user (Part 1, step 5).

Two halves:

* ``crm-audit survey init`` writes the questionnaire: one row per active human user, as
  a CSV to fill in (or import into a form tool) and a printable HTML form;
* ``feedback.user-survey`` folds the answers (``crm-audit run --survey answers.csv`` or
  ``[survey] answers = "answers.csv"`` in crm-audit.toml) into the audit: response rate,
  average rating, who did not answer, and the recurring themes of the free-text answers.

Themes are found with a deliberately simple, explainable method: each answer is
normalised (Unicode NFKC, lower case), split into words (any script: Latin, Hangul, ...),
stop words of a small English / Indonesian / German / Korean list are dropped, and the
words and two-word phrases are counted once per respondent. A theme is a word or phrase
that at least ``min_mentions`` respondents used; the top ones are listed per question.
"""

from __future__ import annotations

import csv
import html
import re
import unicodedata
from collections import Counter
from pathlib import Path

from crm_audit_core import ConfigError, Message, Percent, check, load_config, read_tenant

from .i18n import _, ngettext

QUESTIONS = (
    ("how_often", _("How often do you use the CRM? (daily / weekly / monthly / rarely / never)")),
    ("easier", _("How does the CRM make your work easier?")),
    ("harder", _("How does the CRM make your work harder?")),
    ("favourite_feature", _("What is your favourite feature?")),
    ("lets_down", _("Where does the CRM let you down?")),
    ("rating", _("Overall, how do you rate the CRM? (1 = poor ... 5 = excellent)")),
)
ANSWER_COLUMNS = tuple(k for k, _ in QUESTIONS)
FREE_TEXT = ("easier", "harder", "favourite_feature", "lets_down")
COLUMNS = ("user_id", "name", "email", *ANSWER_COLUMNS)

STOP_WORDS = frozenset(
    # English
    "a an the and or but if then so to of in on at by for with from as is are was were be been being it its "
    "this that these those i me my we our you your he she they them their there here not no yes do does did "
    "doing have has had can could would should will just very too also more most much many some any all "
    "when what which who how why where than into about over out up down only own same other such crm use "
    "uses used using make makes made work get gets lot lots really things thing because while".split()
    # Indonesian
    + "yang dan di ke dari ini itu untuk dengan tidak ada saya kami kita anda juga karena atau pada akan "
      "bisa sudah belum lebih sangat jadi dalam oleh adalah agar saat masih banyak sering".split()
    # German
    + "der die das und oder aber nicht ist sind war ich wir sie es ein eine einen mit von zu im in auf für "
      "bei auch sehr mehr wenn dass zum zur den dem des noch nur so".split()
    # Korean (common particles and fillers written as words)
    + "그리고 그러나 하지만 너무 정말 매우 있는 없는 있다 없다 합니다 해요 것 수 더 좀 잘 안 및 등 때 때문에".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# How often people use the CRM: the value kept, and the words (en, id, ko) an answer may use for it.
FREQUENCIES = {
    "daily": ("daily", "every day", "harian", "setiap hari", "tiap hari", "매일"),
    "weekly": ("weekly", "every week", "mingguan", "setiap minggu", "tiap minggu", "매주"),
    "monthly": ("monthly", "every month", "bulanan", "setiap bulan", "tiap bulan", "매월", "매달"),
    "rarely": ("rarely", "jarang", "거의"),
    "never": ("never", "tidak pernah", "전혀", "한 번도"),
}
FREQUENCY_LABELS = {"daily": _("daily"), "weekly": _("weekly"), "monthly": _("monthly"), "rarely": _("rarely"),
                    "never": _("never")}
SURVEY_LANGUAGES = ("en", "id", "ko")  # the languages the questionnaire is written in
MESSAGE_WIDTH = 100  # the terminal summary shows a finding's message up to 100 characters


# ---------------------------------------------------------------------------
# reading answers
# ---------------------------------------------------------------------------


def _cell(value) -> str:
    text = str(value or "").strip()
    # Undo the quote the questionnaire adds so spreadsheets do not run a cell as a formula.
    if text.startswith("'") and text[1:2] in _FORMULA:
        text = text[1:]
    return text


def read_answers(path: Path) -> list[dict]:
    """The rows of an answers CSV; ConfigError (file and line) when it cannot be read."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(_("survey answers file not found"), where=where,
                          hint=_("pass the CSV filled in from `crm-audit survey init`")) from None
    except UnicodeDecodeError as exc:
        line = text_line(path.read_bytes(), exc.start)
        raise ConfigError(_("survey answers are not UTF-8 text"), where=f"{where}:{line}",
                          hint=_("save the CSV as UTF-8")) from None
    except OSError as exc:
        raise ConfigError(_("cannot read survey answers: {error}", error=str(exc.strerror)), where=where) from None
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    reader = csv.DictReader(text.splitlines(keepends=True), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise ConfigError(_("survey answers file is empty"), where=f"{where}:1",
                          hint=_("it needs a header row: {header}", header=",".join(COLUMNS)))
    if "user_id" not in header and "email" not in header:
        raise ConfigError(_("survey answers have no user_id or email column"), where=f"{where}:1",
                          hint=_("keep the header of `crm-audit survey init`: {header}", header=",".join(COLUMNS)))
    if not any(c in header for c in ANSWER_COLUMNS):
        raise ConfigError(_("survey answers have none of the question columns"), where=f"{where}:1",
                          hint=_("expected {columns}", columns=", ".join(ANSWER_COLUMNS)))
    reader.fieldnames = header
    rows = []
    try:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                raise ConfigError(_("line has {cells} cells, the header has {header}", cells=len(header) + len(raw[None]),
                                    header=len(header)),
                                  where=f"{where}:{line}", hint=_("quote answers that contain the separator"))
            row = {k: _cell(v) for k, v in raw.items()}
            rating = row.get("rating", "")
            if rating:
                try:
                    value = float(rating.replace(",", "."))
                except ValueError:
                    value = None
                if value is None or not 1 <= value <= 5:
                    raise ConfigError(_("rating {rating} is not a number from 1 to 5", rating=repr(rating)),
                                      where=f"{where}:{line}")
                row["rating"] = value
            else:
                row["rating"] = None
            row["_line"] = line
            rows.append(row)
    except csv.Error as exc:
        raise ConfigError(_("not a valid CSV: {error}", error=str(exc)), where=f"{where}:{reader.line_num}") from None
    return rows


def text_line(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def _tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    words = []
    for w in _WORD.findall(text):
        if w in STOP_WORDS or w.isdigit():
            continue
        if len(w) < (2 if _HANGUL.search(w) else 3):
            continue
        words.append(w)
    return words


def themes(answers: list[str], *, top: int = 5, min_mentions: int = 2) -> list[dict]:
    """Recurring words and two-word phrases, counted once per answer (see the module docstring)."""
    counts: Counter = Counter()
    for answer in answers:
        words = _tokens(answer)
        grams = set(words) | {f"{a} {b}" for a, b in zip(words, words[1:])}
        counts.update(grams)
    frequent = [(g, n) for g, n in counts.items() if n >= min_mentions]
    # A phrase that is as frequent as its words says more than the words alone.
    phrases = {g: n for g, n in frequent if " " in g}
    covered = {w for g, n in phrases.items() for w in g.split() if counts[w] <= n}
    ranked = sorted(((g, n) for g, n in frequent if g not in covered),
                    key=lambda gn: (-gn[1], -gn[0].count(" "), gn[0]))
    return [{"theme": g, "mentions": n} for g, n in ranked[:top]]


def _answers_path(ctx) -> Path | None:
    config = ctx.config
    if config is None:
        return None
    section = config.section("survey")
    per_tenant = section.get(ctx.tenant)
    value = per_tenant.get("answers") if isinstance(per_tenant, dict) else None
    value = value or section.get("answers")
    if not value:
        return None
    return config.resolve_path(str(value))


@check(
    id="feedback.user-survey",
    title="Feedback from every CRM user",
    step="feedback",
    area="usage",
    severity="medium",
    needs={"users": ["id", "is_active", "role"]},
    settings={"min_response_rate": 0.8, "min_rating": 3.0, "themes": 5, "min_mentions": 2},
    settings_help={
        "min_response_rate": "fails when fewer than this share (0-1) of active users answered",
        "min_rating": "fails when the average rating (1-5) is lower",
        "themes": "how many recurring themes to list per question",
        "min_mentions": "a theme must be used by at least this many respondents",
    },
    description=(
        "Folds the user survey (crm-audit survey init; answers with crm-audit run --survey answers.csv) into "
        "the audit: response rate, average rating, how often people use the CRM, recurring themes of what "
        "makes work easier or harder, favourite features and where it lets users down, and who did not "
        "answer. Skipped when no answers are given; a malformed answers file is an error naming the line."
    ),
    remediation=(
        "Ask the users listed to answer; discuss the recurring 'harder' and 'lets down' themes with the team "
        "and turn the top ones into fixes (training, automation, fields to drop)."
    ),
)
def user_survey(ctx):
    path = _answers_path(ctx)
    if path is None:
        return ctx.skip(_("no survey answers given (crm-audit survey init writes the questionnaire; "
                          "pass the answers with crm-audit run --survey answers.csv)"))
    rows = read_answers(path)  # ConfigError -> an error result naming the file and line
    users = ctx.rows("SELECT id, email FROM users WHERE is_active AND coalesce(lower(role), '') NOT IN ('integration', 'guest')")
    by_email = {str(u["email"]).strip().casefold(): str(u["id"]) for u in users if u.get("email")}
    active = {str(u["id"]) for u in users}
    answered: dict[str, dict] = {}
    unknown = 0
    for row in rows:
        if not any(row.get(k) not in (None, "") for k in ANSWER_COLUMNS):
            continue  # a questionnaire row nobody filled in
        uid = row.get("user_id") or ""
        if uid not in active:
            uid = by_email.get((row.get("email") or "").casefold(), "")
        if uid in active:
            answered[uid] = row
        else:
            unknown += 1
    missing = sorted(active - set(answered))
    total = len(active)
    rate = len(answered) / total if total else 0.0
    ratings = [r["rating"] for r in answered.values() if r.get("rating") is not None]
    average = round(sum(ratings) / len(ratings), 2) if ratings else None
    distribution = {str(n): sum(1 for x in ratings if round(x) == n) for n in range(1, 6)}
    often = Counter()
    for r in answered.values():
        text = (r.get("how_often") or "").strip().casefold()
        if text:
            often[next((k for k, words in FREQUENCIES.items() if any(w in text for w in words)), "other")] += 1
    s = ctx.settings
    theme_lists = {q: themes([r[q] for r in answered.values() if r.get(q)], top=s["themes"], min_mentions=s["min_mentions"])
                   for q in FREE_TEXT}
    metrics = {
        "answers_file": path.name,
        "active_users": total, "respondents": len(answered), "response_rate": round(rate, 4),
        "average_rating": average, "rating_distribution": distribution, "how_often": dict(often),
        "themes": theme_lists, "answers_from_unknown_users": unknown,
    }
    low_rating = average is not None and average < float(s["min_rating"])
    failed = rate < float(s["min_response_rate"]) or low_rating
    parts = [ngettext("{count} of {n} active user answered ({rate})", "{count} of {n} active users answered ({rate})",
                      total, count=len(answered), rate=Percent(rate, 0))]
    if average is not None:
        parts.append(_("average rating {rating}/5", rating=float(average)))
    labels = {"harder": lambda themes: _("harder: {themes}", themes=themes),
              "lets_down": lambda themes: _("lets down: {themes}", themes=themes)}
    for q, label in labels.items():
        # Whole themes only, as many as keep the message to one summary line (all are in metrics).
        shown: list[str] = []
        for t in theme_lists[q][:3]:
            candidate = Message.join(parts + [label(shown + [t["theme"]])], "; ")
            if len(candidate) > MESSAGE_WIDTH:
                break
            shown.append(t["theme"])
        if shown:
            parts.append(label(shown))
    return ctx.result(ids=missing, population=total, metrics=metrics, failed=failed,
                      details=dict.fromkeys(missing, _("did not answer the survey")), message=Message.join(parts, "; "))


CHECKS = (user_survey,)


# ---------------------------------------------------------------------------
# crm-audit survey init
# ---------------------------------------------------------------------------


def _safe_cell(value) -> str:
    """Quote a cell a spreadsheet would run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def survey_users(users: list[dict]) -> list[dict]:
    """Active human users, sorted by name: the people the questionnaire goes to."""
    chosen = [u for u in users if u.get("is_active") and str(u.get("role") or "").lower() not in ("integration", "guest")]
    return sorted(chosen, key=lambda u: (str(u.get("name") or ""), str(u.get("id"))))


def write_questionnaire(users: list[dict], out: Path, tenant: str, lang: str = "en") -> tuple[Path, Path]:
    """Write ``survey-<tenant>.csv`` and ``survey-<tenant>.html`` into ``out``; the HTML form's
    words in ``lang`` (the CSV's header stays the column names ``run --survey`` reads)."""
    out.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", tenant).strip("-.") or "tenant"
    csv_path, html_path = out / f"survey-{safe}.csv", out / f"survey-{safe}.html"
    people = survey_users(users)
    with open(csv_path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for u in people:
            writer.writerow([_safe_cell(u.get("id")), _safe_cell(u.get("name")), _safe_cell(u.get("email"))]
                            + [""] * len(ANSWER_COLUMNS))
    def e(text) -> str:
        return html.escape(text.render(lang) if isinstance(text, Message) else str(text))

    pages = []
    for u in people:
        user_id = e(_("user id {id}", id=str(u.get("id"))))
        items = []
        for key, text in QUESTIONS:
            if key == "rating":
                boxes = " ".join(f"<label><input type=\"radio\" name=\"rating-{e(str(u.get('id')))}\" value=\"{n}\"> {n}</label>"
                                 for n in range(1, 6))
                items.append(f"<li><p>{e(text)}</p><p>{boxes}</p></li>")
            elif key == "how_often":
                boxes = " ".join(f"<label><input type=\"radio\" name=\"often-{e(str(u.get('id')))}\" value=\"{f}\"> "
                                 f"{e(FREQUENCY_LABELS[f])}</label>" for f in FREQUENCIES)
                items.append(f"<li><p>{e(text)}</p><p>{boxes}</p></li>")
            else:
                items.append(f"<li><p>{e(text)}</p><div class=\"box\"></div></li>")
        pages.append(
            "<section class=\"page\">"
            f"<h2>{e(str(u.get('name') or ''))}</h2>"
            f"<p class=\"who\">{e(str(u.get('email') or ''))} &middot; {user_id}</p>"
            f"<ol>{''.join(items)}</ol></section>"
        )
    title = e(_("CRM user survey: {tenant}", tenant=tenant))
    intro = e(ngettext("{n} questionnaire, one a page. Copy the answers into {csv} (one row per user) and run "
                       "crm-audit run --survey answers.csv.",
                       "{n} questionnaires, one a page. Copy the answers into {csv} (one row per user) and run "
                       "crm-audit run --survey answers.csv.", len(people), csv=csv_path.name))
    document = (
        f"<!DOCTYPE html><html lang=\"{e(lang)}\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title>"
        "<style>body{font-family:system-ui,\"Noto Sans KR\",\"Noto Sans CJK KR\",\"Apple SD Gothic Neo\","
        "\"Malgun Gothic\",sans-serif;max-width:48rem;margin:auto}"
        ".page{page-break-after:always;padding:1rem 0}.box{border:1px solid #888;height:5rem}"
        ".who{color:#555}li{margin-bottom:1rem}</style></head><body>"
        f"<h1>{title}</h1><p>{intro}</p>"
        + "".join(pages) + "</body></html>"
    )
    html_path.write_text(document, encoding="utf-8")
    return csv_path, html_path


def _tenants_users(config, config_path, files_dir, tenant_name) -> list[tuple[str, list[dict]]]:
    """Each tenant's users, read through its connector (all the config's tenants unless one is named)."""
    if files_dir or tenant_name:
        names = [tenant_name]
    else:
        names = [t.name for t in config.tenants]
        if not names:
            raise ConfigError(_("no tenant to survey"), where=str(config_path),
                              hint=_("add a [tenants.NAME] section, or pass --files DIR"))
    out = []
    for name in names:
        with read_tenant(config, files=files_dir, tenant=name) as ctx:
            if not ctx.supplied("users"):
                why = ctx.read_error or _("the connector supplied no users")
                raise ConfigError(_("cannot read the users of tenant {tenant}: {why}", tenant=repr(ctx.tenant), why=why))
            out.append((ctx.tenant, ctx.rows("SELECT * FROM users ORDER BY 1")))
    return out


def register_commands(group) -> None:
    import click

    @click.group(name="survey")
    def survey():
        """The CRM user survey (audit step 5): write the questionnaire, then fold the answers in with run --survey."""

    @survey.command("init")
    @click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="crm-audit.toml with the tenants.")
    @click.option("--files", "files_dir", type=click.Path(file_okay=False, exists=True), help="A folder of <table>.csv files.")
    @click.option("--tenant", "tenant_name", help="Only this tenant (or the name for --files).")
    @click.option("--out", "out", type=click.Path(file_okay=False), default="survey", show_default=True,
                  help="Folder for the questionnaires.")
    @click.option("--lang", "lang", type=click.Choice(SURVEY_LANGUAGES, case_sensitive=False), default=None,
                  help="The questionnaire's language (default [audit] lang, else en).")
    def init(config_path, files_dir, tenant_name, out, lang):
        """Write the questionnaire (CSV + printable HTML), one row per active user."""
        if not config_path and not files_dir:
            if Path("crm-audit.toml").exists():
                config_path = "crm-audit.toml"
            else:
                raise ConfigError(_("say whose users to survey"), hint=_("pass -c crm-audit.toml or --files DIR"))
        config = load_config(config_path)
        lang = (lang or getattr(config, "lang", None) or "en").lower()
        for tenant, users in _tenants_users(config, config_path, files_dir, tenant_name):
            csv_path, html_path = write_questionnaire(users, Path(out), tenant, lang)
            count = len(survey_users(users))
            click.echo(ngettext("{tenant}: {n} user -> {csv} and {html}", "{tenant}: {n} users -> {csv} and {html}",
                                count, tenant=tenant, csv=str(csv_path), html=str(html_path)).render(lang))
        click.echo(_("Fill in the CSV (one row per user), then: crm-audit run ... --survey <answers.csv>").render(lang))

    group.add_command(survey)
