"""report.json written as it is encoded, one result at a time, in the layout of ``json.dump(indent=1)``.

``json.dump(doc, fh, indent=1)`` encodes with the pure-Python encoder (the C one only works
without indentation) and writes each token with its own ``fh.write``: at a million affected
ids that is seconds and millions of calls. Here each result is encoded on its own and
written whole, and every list or object whose members are all plain values (the ids, the
groups' ids, the details) goes through the C encoder, with the separator ``",\\n" + indent``
standing in for the indentation. The bytes are those ``json.dump(doc, fh, ensure_ascii=False,
indent=1, default=str)`` writes (tests/test_report_json.py compares them), but for the
objects named in ``one_line``: report.json writes each record's detail template
(``templates.details``) on one line, which at a million records is most of its bulk and
half its time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any, Iterable

_SCALARS = (str, int, float, bool, type(None))
_PLAIN = json.JSONEncoder(ensure_ascii=False)


@lru_cache(maxsize=None)
def _pad(level: int) -> str:
    return "\n" + " " * level


@lru_cache(maxsize=None)
def _flat_encoder(level: int) -> json.JSONEncoder:
    """The C encoder writing a flat list or object's members one per line at ``level``
    (an encoder per level, made once: ``json.dumps`` with options makes one per call)."""
    return json.JSONEncoder(ensure_ascii=False, default=str, separators=("," + _pad(level), ": "))


def _scalar(value) -> str:
    if type(value) is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    return _PLAIN.encode(value)


def _key(key) -> str:
    """An object key as ``json`` writes it (non-string keys become strings)."""
    if isinstance(key, str):
        return encode_basestring(key)
    if key is None or isinstance(key, (bool, int, float)):  # written as text: "true", "1", "2.5"
        return encode_basestring(_scalar(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


_ONE_LINE = json.JSONEncoder(ensure_ascii=False, default=str, separators=(", ", ": "))


def encode(value: Any, level: int = 0, path: tuple = (), one_line: frozenset = frozenset()) -> str:
    """``value`` as ``json.dumps(value, ensure_ascii=False, indent=1, default=str)`` would write
    it at nesting ``level`` (its lines after the first indented by ``level`` spaces).

    ``one_line``: key paths (from ``value``) of objects whose members are written one a line,
    each member's value whole on that line (``json.dumps`` with ``", "`` and ``": "``)."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = _pad(level + 1)
        if one_line and path in one_line:
            parts = [f"{_key(k)}: {_ONE_LINE.encode(v)}" for k, v in value.items()]
            return "{" + inner + ("," + inner).join(parts) + _pad(level) + "}"
        if all(isinstance(v, _SCALARS) for v in value.values()) and all(isinstance(k, str) for k in value):
            text = _flat_encoder(level + 1).encode(value)
            return "{" + inner + text[1:-1] + _pad(level) + "}"
        if one_line and any(q[:len(path)] == path and len(q) > len(path) for q in one_line):
            parts = [f"{_key(k)}: {encode(v, level + 1, path + (k,), one_line)}" for k, v in value.items()]
        else:
            parts = [f"{_key(k)}: {encode(v, level + 1)}" for k, v in value.items()]
        return "{" + inner + ("," + inner).join(parts) + _pad(level) + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = _pad(level + 1)
        if all(isinstance(v, _SCALARS) for v in value):
            text = _flat_encoder(level + 1).encode(value)
            return "[" + inner + text[1:-1] + _pad(level) + "]"
        return "[" + inner + ("," + inner).join(encode(v, level + 1) for v in value) + _pad(level) + "]"
    if isinstance(value, _SCALARS):
        return _scalar(value)
    return encode(json.loads(json.dumps(value, ensure_ascii=False, default=str)), level)


def write(fh, head: dict, streamed_key: str, items: Iterable[dict], one_line: frozenset = frozenset()) -> None:
    """Write ``head`` (an object) with ``head[streamed_key]`` replaced by ``items``, each
    encoded and written on its own (with ``one_line``: see :func:`encode`); ``streamed_key``
    keeps its place among the keys."""
    fh.write("{")
    first = True
    for key, value in head.items():
        fh.write(("" if first else ",") + _pad(1) + _key(key) + ": ")
        first = False
        if key != streamed_key:
            fh.write(encode(value, 1))
            continue
        opened = False
        for item in items:
            fh.write(("[" if not opened else ",") + _pad(2) + encode(item, 2, (), one_line))
            opened = True
        fh.write(_pad(1) + "]" if opened else "[]")
    fh.write(_pad(0) + "}" if not first else "}")
