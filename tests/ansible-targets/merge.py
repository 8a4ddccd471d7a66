#!/usr/bin/env python3
"""Merges the results of harness runs made in other work folders (several runs in parallel,
each on its own lab host) into this one's results.json, then writes the table.

    merge.py --work target/ansible-targets --out COMPAT.md OTHER/results.json...
    merge.py --work ... --seed-ansible COMPAT.md ...   ansible-core's results from a table

A later run's result for a target and tool replaces an earlier one (files are read in the
order given). results.json is not kept in the repository, COMPAT.md is: --seed-ansible takes
ansible-core's results (pass or its first failure, asserts, time) from a COMPAT.md for the
targets that results.json has none of, so that a prov-only run (its runs take an hour) is
compared with the reference measured before."""
import argparse
import json
import re
import os
import sys
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402


def ansible_from_table(path):
    """ansible-core's results per target from the rows of a COMPAT.md."""
    out = {}
    for line in open(path):
        c = [x.strip() for x in line.split(" | ")]
        if len(c) < 7 or not line.startswith("| ") or c[0] in ("| target", "| ---"):
            continue
        name, state, asserts, seconds = c[0][2:], c[1], c[3], c[5]
        m = re.match(r"(\d+) / (\d+)$", asserts)
        t = re.match(r"([\d.]+) s$", seconds)
        if not m or not t:
            continue
        failed = re.match(r"not counted: fails under ansible-core here \((.*)\)$", state)
        out[name] = {
            "passed": failed is None,
            "wall": float(t.group(1)),
            "asserts_ok": int(m.group(1)),
            "asserts_failed": int(m.group(2)),
            "first_failure": failed.group(1).replace("\\|", "|") if failed else None,
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="the work folder whose results.json gets the merge")
    ap.add_argument("--out", help="write the results table here (COMPAT.md)")
    ap.add_argument("--seed-ansible", help="a COMPAT.md to take ansible-core's results from")
    ap.add_argument("results", nargs="*", help="results.json files of other runs")
    a = ap.parse_args()
    saved = os.path.join(a.work, "results.json")
    results = json.load(open(saved)) if os.path.exists(saved) else {}
    if a.seed_ansible:
        for name, res in ansible_from_table(a.seed_ansible).items():
            results.setdefault(name, {}).setdefault("ansible", res)
    for path in a.results:
        for name, tools in json.load(open(path)).items():
            results.setdefault(name, {}).update(tools)
    with open(saved, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    if a.out:
        cfg = harness.load_yaml(os.path.join(HERE, "targets.yaml"))
        args = SimpleNamespace(integration=os.path.join(a.work, "test", "integration"))
        passing, counted = harness.write_report(args, cfg, results, a.out)
        print(f"{passing} of {counted} counted targets pass; table in {a.out}")


if __name__ == "__main__":
    main()
