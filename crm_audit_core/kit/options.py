"""Connector options: one parser, one error type, one message style for every connector.

A connector reads its options (a tenant's ``[tenants.<name>]`` table or ``--option k=v``)
through :class:`Options`. Values arrive as TOML values or strings from the command line;
an empty string counts as unset everywhere. Every bad value raises
:class:`~crm_audit_core.errors.ConfigError` (exit code 2) with the same shape::

    option 'page_limit' of the pipedrive connector must be a whole number from 1 to 500, got 'lots'

The option *spec* a connector registers (``ConnectorInfo.options``) maps each name to its
help text, or to an :class:`Option` that also says whether it is a secret or required.
Secrets are read with :meth:`Options.secret`, which registers the value with
:func:`crm_audit_core.secrets.remember` so it is masked in every log, report and error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..errors import ConfigError
from ..i18n import _
from ..secrets import remember

SECRET_SUFFIXES = ("token", "password", "secret", "key")
_TRUE = ("1", "true", "yes", "on", "y")
_FALSE = ("0", "false", "no", "off", "n")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)?\s*$", re.I)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Option:
    """One connector option in ``ConnectorInfo.options``: help text and what kind it is.

    ``secret``: masked everywhere, never echoed (the default is true for names ending in
    token, password, secret or key). ``required``: the connector cannot run without it (one
    of a group of alternatives is not "required": say so in the help instead).
    """

    help: str
    secret: bool | None = None
    required: bool = False

    def __str__(self) -> str:
        return self.help

    def is_secret(self, name: str) -> bool:
        """Whether option ``name`` holds a secret (see the class docstring)."""
        if self.secret is not None:
            return self.secret
        return name.lower().endswith(SECRET_SUFFIXES)


def option_spec(options: Mapping[str, Any]) -> dict[str, Option]:
    """Normalise a connector's ``options`` (name -> help text or :class:`Option`)."""
    out = {}
    for name, value in (options or {}).items():
        out[name] = value if isinstance(value, Option) else Option(str(value))
    return out


def secret_option_names(options: Mapping[str, Any]) -> list[str]:
    """The names of the options that hold secrets."""
    return [name for name, spec in option_spec(options).items() if spec.is_secret(name)]


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


class Options:
    """Typed access to one connector's options, with one error style.

    ``values``: the options as configured; ``connector``: the connector's name, used in
    every message. Getters return ``default`` when the option is unset (absent, None or an
    empty string).
    """

    def __init__(self, values: Mapping[str, Any] | None, connector: str, *, kind: str = "connector"):
        self.values = dict(values or {})
        self.connector = connector
        self.kind = kind  # "connector", or "probe" for an integration probe's options

    def __contains__(self, name: str) -> bool:
        return not _unset(self.values.get(name))

    def raw(self, name: str, default: Any = None) -> Any:
        """The option's value as configured (``default`` when unset)."""
        value = self.values.get(name)
        return default if _unset(value) else value

    def _error(self, name: str, expected: str, got: Any = None, *, show: bool = True, hint: str | None = None):
        values = {"option": repr(name), "name": self.connector, "expected": expected, "value": repr(got)}
        if self.kind == "probe":
            text = (_("option {option} of the {name} probe must be {expected}, got {value}", **values) if show
                    else _("option {option} of the {name} probe must be {expected}", **values))
        else:
            text = (_("option {option} of the {name} connector must be {expected}, got {value}", **values) if show
                    else _("option {option} of the {name} connector must be {expected}", **values))
        return ConfigError(text, where=self.connector, hint=hint)

    def missing(self, name: str, what: str | None = None, hint: str | None = None) -> ConfigError:
        """The error for a required option that is not set."""
        values = {"option": repr(name), "name": self.connector, "what": what}
        if self.kind == "probe":
            text = (_("the {name} probe needs option {option} ({what})", **values) if what
                    else _("the {name} probe needs option {option}", **values))
        else:
            text = (_("the {name} connector needs option {option} ({what})", **values) if what
                    else _("the {name} connector needs option {option}", **values))
        return ConfigError(text, where=self.connector, hint=hint)

    def text(self, name: str, default: str | None = None, *, required: bool = False,
             hint: str | None = None) -> str | None:
        """A text option, stripped (``required``: a ConfigError naming it when unset)."""
        value = self.raw(name)
        if value is None:
            if required:
                raise self.missing(name, hint=hint)
            return default
        if isinstance(value, (dict, list)):
            raise self._error(name, _("a text value"), value, hint=hint)
        return str(value).strip()

    def number(self, name: str, default: float | None, *, minimum: float | None = None,
               maximum: float | None = None) -> float | None:
        """A number option (int or float), within ``minimum``..``maximum`` when given."""
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
            if isinstance(value, bool) or number != number:
                raise ValueError
        except (TypeError, ValueError):
            raise self._error(name, _number(False, minimum, maximum), value) from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise self._error(name, _number(False, minimum, maximum), value)
        return number

    def integer(self, name: str, default: int | None, *, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        """A whole-number option, within ``minimum``..``maximum`` when given."""
        value = self.raw(name)
        if value is None:
            return default
        expected = _number(True, minimum, maximum)
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if number != int(number):
                raise ValueError
            number = int(number)
        except (TypeError, ValueError, OverflowError):
            raise self._error(name, expected, value) from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise self._error(name, expected, value)
        return number

    def boolean(self, name: str, default: bool) -> bool:
        """A true/false option (also yes/no, on/off, 1/0)."""
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self._error(name, _("true or false"), value)

    def duration(self, name: str, default: float | None, *, minimum: float = 0.0) -> float | None:
        """Seconds, from a number or a text such as ``"30"``, ``"30s"``, ``"2m"``, ``"1h"``, ``"500ms"``."""
        value = self.raw(name)
        if value is None:
            return default
        expected = _("a duration such as 30, '30s', '2m' or '1h'")
        if isinstance(value, bool):
            raise self._error(name, expected, value)
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            match = _DURATION.match(str(value))
            if not match:
                raise self._error(name, expected, value)
            unit = (match[2] or "s").lower()
            unit = "ms" if unit == "ms" else unit[0]
            seconds = float(match[1]) * _UNIT_SECONDS[unit]
        if seconds < minimum:
            raise self._error(name, _("a duration of at least {seconds} seconds", seconds=format(minimum, "g")), value)
        return seconds

    def choice(self, name: str, choices: Iterable[str], default: str | None) -> str | None:
        """One of ``choices`` (case-insensitive; returned as spelled in ``choices``)."""
        value = self.text(name)
        if value is None:
            return default
        allowed = list(choices)
        if value.lower() not in [c.lower() for c in allowed]:
            raise self._error(name, _("one of {choices}", choices=", ".join(repr(c) for c in allowed)), value)
        return next(c for c in allowed if c.lower() == value.lower())

    def secret(self, name: str, env: Iterable[str] = (), *, required: bool = False,
               hint: str | None = None) -> str | None:
        """A secret from the option, or else the first set environment variable of ``env``.

        The value is registered with :func:`crm_audit_core.secrets.remember` (masked in all
        output) and never shown in an error."""
        value = self.raw(name)
        if value is None:
            value = next((os.environ[k] for k in env if os.environ.get(k)), None)
        if value is None:
            if required:
                what = _("set it or the environment variable {names}; never write the secret itself into crm-audit.toml",
                         names=" / ".join(env)) if env else None
                raise self.missing(name, what, hint=hint)
            return None
        if isinstance(value, (dict, list)):
            raise self._error(name, _("a text value"), show=False)
        value = str(value).strip()
        remember(value)
        return value

    def verify(self, ca_bundle: str = "ca_bundle", verify: str = "verify") -> Any:
        """TLS verification for ``requests``: a CA bundle path, True, or False.

        ``ca_bundle`` names a file to trust; ``verify`` is true, false or a CA bundle path."""
        bundle = self.text(ca_bundle)
        if bundle:
            if not os.path.exists(bundle):
                raise self._error(ca_bundle, _("the path of an existing CA bundle file"), bundle)
            return bundle
        value = self.raw(verify)
        if value is None:
            return True
        if isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        if os.path.exists(text):
            return text
        raise self._error(verify, _("true, false or the path of a CA bundle file"), value)


def _number(whole: bool, minimum, maximum):
    """What a number option must be: "a whole number from 1 to 10", "a number of at least 0", ..."""
    low, high = (None if minimum is None else format(minimum, "g")), (None if maximum is None else format(maximum, "g"))
    if whole:
        if low is not None and high is not None:
            return _("a whole number from {minimum} to {maximum}", minimum=low, maximum=high)
        if low is not None:
            return _("a whole number of at least {minimum}", minimum=low)
        if high is not None:
            return _("a whole number of at most {maximum}", maximum=high)
        return _("a whole number")
    if low is not None and high is not None:
        return _("a number from {minimum} to {maximum}", minimum=low, maximum=high)
    if low is not None:
        return _("a number of at least {minimum}", minimum=low)
    if high is not None:
        return _("a number of at most {maximum}", maximum=high)
    return _("a number")
