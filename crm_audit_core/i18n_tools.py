"""``crm-audit i18n``: extract the templates of a domain, and count what is translated.

``extract`` reads a domain's code with Babel (calls of ``_``, ``gettext``, ``ngettext``,
``tr`` and ``ntr``; Jinja templates under ``templates/``) plus the metadata of the checks
registered in it (title, description, remediation, settings' help) and writes
``locale/messages.pot``; each ``locale/<lang>.po`` is then updated from it (new strings
added untranslated, strings gone from the code marked obsolete and dropped). Translators
fill the ``msgstr`` lines of the .po files; nothing is compiled by hand (the catalogues
are compiled in memory when first used).

``coverage`` counts, per domain and language, the templates with a translation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from .i18n import LANGUAGES, Domain

KEYWORDS = {"_": None, "_t": None, "gettext": None, "ngettext": (1, 2), "tr": (2,), "ntr": (2, 3)}
METHOD_MAP = [("**/templates/**.j2", "jinja2"), ("**.py", "python")]
SKIP_DIRS = {"tests", "sandbox", "__pycache__", "locale"}


def _extra_strings(domain: Domain, checks) -> list[tuple[str, str]]:
    """(text, where) from outside the code's calls: checks' metadata, the core's vocabulary."""
    out = []
    for c in checks:
        if c.domain != domain.name:
            continue
        out += [(c.title, f"check {c.id}: title"), (c.description, f"check {c.id}: description"),
                (c.remediation, f"check {c.id}: remediation")]
        out += [(h, f"check {c.id}: setting {k}") for k, h in sorted(c.settings_help.items())]
    if domain.name == "crm_audit_core":
        from . import model

        out += [(t, f"step {s}") for s, t in model.STEP_TITLES.items()]
    return [(t, w) for t, w in out if t and t.strip()]


def build_template(domain: Domain, checks=()):
    """The domain's templates as a Babel catalogue (what ``messages.pot`` holds)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project=domain.name, header_comment="# Templates of the translation domain "
                      f"{domain.name}: made by `crm-audit i18n extract`; do not edit by hand.",
                      fuzzy=False)
    root = domain.sources

    def callback(filename, method, options):
        return None

    for filename, _lineno, message, comments, _context in extract_from_dir(
            str(root), METHOD_MAP, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            callback=callback, strip_comment_tags=True,
            directory_filter=lambda d: Path(d).name not in SKIP_DIRS):
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        catalog.add(message, locations=[(filename, None)], auto_comments=comments)
    for text, where in _extra_strings(domain, checks):
        catalog.add(text, auto_comments=[where])
    return catalog


def _po_bytes(catalog, template: bool) -> bytes:
    from babel.messages.pofile import write_po

    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, no_location=True, omit_header=False, sort_output=True,
             ignore_obsolete=True, include_previous=False)
    return buffer.getvalue()


def _msgids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def extract(domain: Domain, checks=(), languages=None, write: bool = True) -> dict:
    """Write (or, ``write=False``, compare) ``messages.pot`` and update the .po files.

    Returns ``{"added": [...], "removed": [...]}``: the template's msgids that are new or
    gone compared with the ``messages.pot`` on disk.
    """
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    template = build_template(domain, checks)
    old = set()
    if domain.pot_path.exists():
        with open(domain.pot_path, "rb") as fh:
            old = _msgids(read_po(fh))
    new = _msgids(template)
    change = {"added": sorted(map(str, new - old)), "removed": sorted(map(str, old - new))}
    if not write:
        return change
    langs = languages or [lang for lang in LANGUAGES if lang != "en"]
    if not change["added"] and not change["removed"] and all(domain.po_path(x).exists() for x in langs):
        return change  # nothing to do: the files stay as they are (no new creation date to commit)
    domain.directory.mkdir(parents=True, exist_ok=True)
    domain.pot_path.write_bytes(_po_bytes(template, True))
    for lang in langs:
        po = domain.po_path(lang)
        if po.exists():
            with open(po, "rb") as fh:
                catalog = read_po(fh, locale=lang)
        else:
            catalog = Catalog(locale=lang, project=domain.name, fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        po.write_bytes(_po_bytes(catalog, False))
    domain.reload()
    return change


@dataclass
class Coverage:
    domain: str
    lang: str
    translated: int
    total: int
    missing: list

    @property
    def percent(self) -> float:
        return 100.0 if not self.total else round(100.0 * self.translated / self.total, 1)


def coverage(domain: Domain, lang: str) -> Coverage:
    """How many of the domain's templates (``messages.pot``) ``lang``'s .po translates."""
    from babel.messages.pofile import read_po

    if not domain.pot_path.exists():
        return Coverage(domain.name, lang, 0, 0, [])
    with open(domain.pot_path, "rb") as fh:
        template = read_po(fh)
    translated = {}
    if domain.po_path(lang).exists():
        with open(domain.po_path(lang), "rb") as fh:
            for m in read_po(fh, locale=lang):
                if not m.id or m.fuzzy:
                    continue
                strings = m.string if isinstance(m.string, (list, tuple)) else [m.string]
                if all(s and s.strip() for s in strings):
                    translated[m.id if not isinstance(m.id, (list, tuple)) else m.id[0]] = True
    ids = [m.id if not isinstance(m.id, (list, tuple)) else m.id[0] for m in template if m.id]
    missing = [i for i in ids if i not in translated]
    return Coverage(domain.name, lang, len(ids) - len(missing), len(ids), missing)
