#!/usr/bin/env python3
"""Merges the results of harness runs made in other work folders (several runs in parallel,
each on its own lab host) into this one's results.json, then writes the table.

    merge.py --work target/ansible-targets --out COMPAT.md OTHER/results.json...

A later run's result for a target and tool replaces an earlier one (files are read in the
order given)."""
import argparse
import json
import os
import sys
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="the work folder whose results.json gets the merge")
    ap.add_argument("--out", help="write the results table here (COMPAT.md)")
    ap.add_argument("results", nargs="*", help="results.json files of other runs")
    a = ap.parse_args()
    saved = os.path.join(a.work, "results.json")
    results = json.load(open(saved)) if os.path.exists(saved) else {}
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
