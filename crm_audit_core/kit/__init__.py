"""The connector kit: what every connector needs and no connector should write again.

* :mod:`.options`: typed option getters with one error type and style, and the option spec
  (:class:`Option`: help, secret, required);
* :mod:`.calls`: :class:`CallPolicy` (budget guard -> limiter -> send -> record -> retry)
  around a connector's ``classify(response) -> Verdict``;
* :mod:`.reader`: :class:`TableReader` / :func:`read_table`, resumable multi-source reads
  with checkpoints, carry-forward for incremental audits and completion;
* :mod:`.values`: :func:`utc_datetime`, every vendor's timestamps read one way.

The sandbox half of the kit (an emulated CRM's request log, faults, rate windows, daily
counters and server) is :mod:`crm_audit_core.sandbox.server`; the acceptance suite every
connector runs is in :mod:`crm_audit_core.testing`. A guide: docs/plugins/writing-a-connector.md.
"""

from ..http import BudgetGuard, CallStats, RateLimiter, RetryableError, make_session, parse_retry_after
from .calls import (
    AUTH_FAILED,
    FATAL,
    OK,
    QUOTA_SPENT,
    RATE_LIMITED,
    RETRY,
    UNAVAILABLE,
    CallPolicy,
    NullProgress,
    Unavailable,
    Verdict,
)
from .options import Option, Options, option_spec, secret_option_names
from .reader import Source, TableReader, grouped, read_table
from .values import utc_datetime

__all__ = [
    "AUTH_FAILED", "FATAL", "OK", "QUOTA_SPENT", "RATE_LIMITED", "RETRY", "UNAVAILABLE",
    "BudgetGuard", "CallPolicy", "CallStats", "NullProgress", "Option", "Options", "RateLimiter",
    "RetryableError", "Source", "TableReader", "Unavailable", "Verdict", "grouped", "make_session",
    "option_spec", "parse_retry_after", "read_table", "secret_option_names", "utc_datetime",
]
