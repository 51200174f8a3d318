"""The connector contract: how a plugin that reads a CRM hands rows to the store.

A connector plugin registers a :class:`ConnectorInfo` through the
``crm_audit_register_connectors`` hook. For each configured tenant the runner calls
``info.factory(options, context)`` and then ``connector.extract(sink)``. The connector
reads its CRM and calls ``sink.write(table, rows)`` with canonical rows (dicts keyed by
the columns of :mod:`crm_audit_core.model`), in batches, never one call per record.

Row conventions:

* canonical columns as plain Python values: ``str``, ``int``, ``float``, ``bool``,
  ``datetime`` (aware or naive UTC) or an ISO-8601 string for timestamps, a list of
  strings for ``list`` columns; ``None`` for unknown;
* ``"raw"``: the vendor's record (a dict, stored as JSON) so nothing is lost;
* ``"custom"``: optional dict ``{field_name: value}`` of custom-field values (stored in
  ``custom_values``; declare the fields in the ``fields`` table).

Tables a connector never writes are "not supplied", and checks that need them are
skipped with a reason. A table is complete once ``sink.complete(table)`` is called; a
table begun but not completed (the connector failed half-way) is marked *partial* in the
report, never silently taken as whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol


class ProgressHandle(Protocol):
    def advance(self, records: int = 0, calls: int = 0) -> None: ...

    def set_total(self, total: int | None) -> None: ...

    def waiting(self, seconds: float) -> None:
        """Account ``seconds`` spent waiting on rate limits (shown in the bar)."""


class Sink(Protocol):
    """Where a connector sends its rows (implemented by :mod:`crm_audit_core.extract`)."""

    tenant: str

    def write(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Buffer canonical rows for ``table``; written to the store in batches."""

    def complete(self, table: str) -> None:
        """Declare ``table`` fully read."""

    def progress(self, table: str, total: int | None = None) -> ProgressHandle:
        """A progress bar for one object (records, API calls, rate-limit waits)."""

    def note(self, message: str) -> None:
        """A warning for the report (e.g. 'login history not available on this plan')."""

    def unreadable(self, table: str, column: str, cells: int, expected: str, examples: list[str]) -> None:
        """``cells`` values of ``table.column`` could not be read as ``expected`` ("a date",
        "a number") and were stored as empty; ``examples`` shows a few. The check
        ``data.unrecognised-values`` reports them with their counts, so nothing a
        connector could not interpret is silently dropped."""

    def unavailable(self, table_or_column: str, reason: str) -> None:
        """Say at run time that ``table_or_column`` ("security_settings", "users.mfa_enabled")
        could not be read on this tenant and why, naming what to grant (e.g. "the audit user
        lacks the 'View Setup and Configuration' permission: grant it to read Health Check").
        Added to :attr:`ConnectorInfo.limitations` for this tenant: a check that needs it is
        skipped with this reason, never passed."""

    def is_complete(self, table: str) -> bool:
        """Resuming: an earlier, interrupted run of this audit already read ``table``."""

    def resume_state(self, table: str) -> dict | None:
        """Resuming: the state of the last checkpoint of ``table`` (None: start over)."""

    def checkpoint(self, table: str, state: dict) -> None:
        """Commit the rows written for ``table`` so far together with ``state`` (JSON)."""

    def stored(self, table: str, columns) -> list[tuple]:
        """Read back ``columns`` of the rows of ``table`` committed so far (e.g. when resuming).

        Every row at once: for small tables. For lookups in big ones use :meth:`lookup`."""

    def lookup(self, table: str, key_column: str, value_columns, keys) -> dict:
        """Read back some committed rows: ``{key: (value, ...)}`` for the rows of ``table``
        whose ``key_column`` is in ``keys`` (strings), ``value_columns`` in order; keys not
        found are absent. Committed means completed tables, checkpointed pages, rows carried
        forward, and rows committed by the interrupted run a ``--resume`` continues; not rows
        still buffered. One query per call: pass a page's keys at once, never one record's,
        so a connector derives columns from another table (a person's last activity, an
        organization's name) without holding that table in memory."""

    def carry_forward(self, table: str, previous: "PreviousSnapshot", deleted_ids=()) -> int:
        """Incremental: take the rows this run did not re-read from the previous snapshot."""

    def write_arrow(self, table: str, typed, custom=None) -> int:
        """Write an Arrow table of canonical columns at once (the files connector's bulk path);
        ``custom``: an Arrow table of custom-field columns, or None."""

    def write_arrow_batches(self, table: str, batches) -> int:
        """Write ``(typed, custom)`` pairs as :meth:`write_arrow` does, all in one transaction of
        the store (DuckDB then writes the rows once, straight into the file); returns the rows."""

    def write_query(self, table: str, select: str, columns: list[str], custom: str | None = None, *,
                    total: int | None = None) -> int:
        """Write the rows of a DuckDB query, run by the store itself: ``select`` gives the
        canonical ``columns`` in the store's types, ``custom`` (or None) custom values as
        ``record_id, field, value`` rows. The queries may read only what a fresh DuckDB
        connection can (files through ``read_csv``/``read_parquet``), so a big file goes
        straight into the snapshot, its rows never in Python (the files connector's path for
        plain CSV files). One transaction; ``total``: the rows expected, for the progress
        bar. Returns the rows written."""


class Connector(Protocol):
    def extract(self, sink: Sink) -> None:
        """Read the CRM into ``sink``. Raise :class:`crm_audit_core.errors.ConnectorError`
        (or :class:`~crm_audit_core.errors.AuthError`) with one clear line on failure."""

    def api_calls(self) -> int:
        """How many HTTP calls this connector made."""


@dataclass
class PreviousSnapshot:
    """The last complete audit of the same tenant, for incremental audits.

    ``since``: when that audit started reading this tenant (minus a safety overlap):
    read only records created or modified since then, collect the ids deleted since,
    and call ``sink.carry_forward(table, previous, deleted_ids)`` to take the rest from
    ``path`` (that audit's snapshot).
    """

    audit_id: str
    path: Any  # pathlib.Path of the previous snapshot.duckdb
    since: Any  # datetime, UTC
    records: dict = field(default_factory=dict)  # table -> row count in the previous snapshot
    tenant: str = ""

    def rows(self, table: str, columns) -> list[tuple]:
        """``columns`` of ``table`` in the previous snapshot (e.g. lookups for derived columns)."""
        from .store import Store

        store = Store(self.path, read_only=True)
        try:
            if table not in store.supplied(self.tenant):
                return []
            return store.read_columns(self.tenant, table, list(columns))
        finally:
            store.close()


@dataclass
class ExtractContext:
    """What the runner tells a connector about the audit.

    ``previous`` is set for incremental audits when the connector declares
    ``ConnectorInfo.incremental``; ``resuming`` is true when ``crm-audit run --resume``
    continues an interrupted audit (use ``sink.is_complete(table)`` and
    ``sink.resume_state(table)``; call ``sink.checkpoint(table, state)`` after each page).
    ``lang`` is the audit's language (``en``, ``id``, ``ko``): a connector's notes and errors
    are templates rendered later, but a line it prints itself is worded in it.
    """

    tenant: str
    as_of: Any  # datetime, UTC
    debug: bool = False
    settings: dict = field(default_factory=dict)  # [connectors.<name>] defaults
    previous: PreviousSnapshot | None = None
    resuming: bool = False
    lang: str = "en"  # the audit's language, for what a connector prints itself (its notes are templates)


FAULT_KINDS = ("429", "500", "503", "slow", "drop", "malformed", "truncated", "expire-token")


@dataclass
class SandboxHandle:
    """A running emulated CRM (see :class:`ConnectorInfo.sandbox`).

    ``options``: the connector options that point the connector at this sandbox (base
    URL, token, CA bundle, ...), so ``info.factory(handle.options, context)`` just works.
    ``requests``: the request log, one dict per request: ``method``, ``path`` (without
    the query string), ``query`` (a dict), ``status`` (0: the connection was dropped),
    ``url_length``.
    ``inject(kind, times=1, path_contains=None, after=0, method=None, match=None)``: make
    the next ``times`` matching requests fail with one of :data:`FAULT_KINDS` (a
    vendor-shaped 429 / 5xx body, a slow response, a dropped connection, a malformed or
    truncated body, or a token that stops being valid), once ``after`` matching requests
    went through.
    ``read_only_posts``: method+path prefixes that are reads despite the method (search and
    batch-read POSTs, Bulk query jobs), so tests can assert an audit wrote nothing.
    ``app``: the sandbox app (:class:`crm_audit_core.sandbox.server.SandboxApp`), behind the
    typed API below; ``extra``: vendor-specific things for the vendor's own tests.
    """

    url: str
    options: dict
    stop: Callable[[], None]
    requests: list = field(default_factory=list)
    inject: Callable[..., None] | None = None
    read_only_posts: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
    app: Any = None
    ca_bundle: str | None = None

    def __enter__(self) -> "SandboxHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the tenant changes between two audits (incremental tests) --------------------

    def put_record(self, table: str, row: dict, when: Any = None) -> Any:
        """Create or update the canonical ``row`` of ``table`` in the emulated CRM."""
        return self.app.put_record(table, row, when=when)

    def delete_record(self, table: str, record_id: str, when: Any = None) -> Any:
        """Delete record ``record_id`` of ``table`` from the emulated CRM."""
        return self.app.delete_record(table, record_id, when=when)

    # -- the daily allowance ----------------------------------------------------------

    @property
    def daily_used(self) -> int:
        """Units of the daily allowance spent so far (calls, or Pipedrive's tokens)."""
        return self.app.daily_used

    @property
    def daily_limit(self) -> int | None:
        """The sandbox's daily allowance (None: no allowance)."""
        return self.app.daily_limit

    def spend_daily_allowance(self, after: int = 0) -> None:
        """Others spend the whole daily allowance now (or after ``after`` more calls)."""
        self.app.spend_daily_allowance(after)

    def writes(self, requests: list[dict] | None = None) -> list[dict]:
        """Requests that could have changed the CRM (none in a read-only audit): of the
        request log, or of ``requests`` (a copy of it taken earlier)."""
        return [r for r in (self.requests if requests is None else requests)
                if r["method"] not in ("GET", "HEAD", "OPTIONS")
                and not any(r["path"].startswith(p) for p in self.read_only_posts)]


@dataclass
class ExportFormat:
    """A vendor's own export that a connector plugin reads through its mapping code
    (``ConnectorInfo.export_reader``), so ``crm-audit run --files DIR`` audits it as is.

    ``name``: the ``--files-format`` value, e.g. ``"salesforce-export"``.
    ``detect(headers)``: ``headers`` maps each file of the folder (its name, lower-cased,
    e.g. ``"contact.csv"``) to its header row; returns how sure it is that the folder is
    this export (0: it is not; the format with the highest score wins).
    ``read(files)``: ``files`` is a :class:`crm_audit_core.exports.ExportFiles` (names,
    headers, and each file's records as dicts, decoded whatever the encoding); returns a
    :class:`crm_audit_core.exports.ExportResult`: canonical rows by table, made by the
    connector's own ``<entity>_to_row`` functions, and per file what was mapped, dropped
    and missing.
    """

    name: str
    detect: Callable[[dict[str, list[str]]], int]
    read: Callable[[Any], Any]
    description: str = ""


@dataclass
class ConnectorInfo:
    """Registration record for a connector.

    ``factory(options, context)`` builds the connector from its options and must not touch
    the CRM (no network): the runner calls it once before anything is read or archived, so
    a bad option is a usage error (exit 2); ``extract`` does the reading. Every option a
    tenant may set must be in ``options``: any other is refused with a did-you-mean.

    ``options``: option name -> help text, or a :class:`crm_audit_core.kit.Option` that also
    says whether the option is a secret or required; names ending in ``token``,
    ``password``, ``secret`` or ``key`` are secrets unless the Option says otherwise
    (masked everywhere).
    ``sandbox``: optional callable ``sandbox(tenant, **kwargs) -> SandboxHandle`` that
    serves a generated tenant (:class:`crm_audit_core.sandbox.GeneratedTenant`) over HTTP
    on 127.0.0.1; ``crm-audit demo`` and the test kit use it without naming the CRM.
    ``record_url``: optional ``record_url(options, table, id) -> str | None`` (``table``: the
    canonical table, e.g. ``"contacts"``) for links into the CRM in reports and fix-lists.
    ``limitations``: what the vendor does not expose, so a check that needs it says why it
    was skipped: ``"table"`` or ``"table.column"`` -> one sentence naming the vendor's
    limitation and where the connector's page documents it, e.g. ``{"users.mfa_enabled":
    "HubSpot's users API does not say whether a user has two-factor authentication
    (docs/connectors/hubspot.md#what-the-api-does-not-give)"}``.
    ``any_vendor``: the connector reads data of any CRM (the files connector reads exports),
    so a check for some CRMs (``Check.vendors``) applies when the tables it needs are
    supplied, and is ``not-applicable`` when they are not; for every other connector such a
    check applies only when its ``vendors`` name the connector.
    ``export_reader``: optional :class:`ExportFormat`: the vendor's export files this
    connector's mapping can read (the files connector offers it to ``--files``).
    """

    name: str
    factory: Callable[[dict, ExtractContext], Connector]
    description: str = ""
    options: dict[str, str] = field(default_factory=dict)
    required_options: tuple[str, ...] = ()
    sandbox: Callable[..., SandboxHandle] | None = None
    record_url: Callable[[dict, str, str], str | None] | None = None
    limitations: dict[str, str] = field(default_factory=dict)
    # Capabilities: resumable = honours sink.is_complete / resume_state / checkpoint;
    # incremental = reads only what changed since context.previous and carries the rest.
    resumable: bool = False
    incremental: bool = False
    any_vendor: bool = False
    export_reader: ExportFormat | None = None
    plugin: str = ""  # filled by the registry: which plugin registered it

    def __post_init__(self) -> None:
        from .kit.options import option_spec

        self.options = option_spec(self.options)
        required = [n for n, o in self.options.items() if o.required and n not in self.required_options]
        self.required_options = tuple(self.required_options) + tuple(required)

    def secret_options(self) -> list[str]:
        """The options that hold secrets (masked in every output)."""
        return [name for name, option in self.options.items() if option.is_secret(name)]
