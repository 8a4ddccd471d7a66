#!/usr/bin/env python3
"""Two prov binaries on the benchmark's 50-task playbook (bench/bench.py's main.yml), turn by
turn on the same hosts, to show a change does not slow prov down (e.g. a build from before a
feature against one from after it). Prints a Markdown table of medians and the B/A ratios of
each pair; needs a lab (tests/lab/up.sh 3, tests/lab/many.sh N) and release builds:

    bench/compare.py --a OLD/prov --b NEW/prov [--set many|lab] [--reps 5]
"""
import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="the baseline prov binary")
    ap.add_argument("--b", required=True, help="the prov binary to compare with it")
    ap.add_argument("--set", default="many", choices=["many", "lab"])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lab-state", default=os.path.join(HERE, "..", "tests", "lab", ".state"))
    ap.add_argument("--work", default=os.path.join(HERE, "..", "target", "bench"))
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    pb = bench.write_playbooks(work)["main.yml"]
    lab = bench.lab_of(os.path.abspath(args.lab_state), args.set)
    res = {t: {"first": [], "second": [], "rss": []} for t in ("a", "b")}
    for rep in range(args.reps):
        # alternate which goes first, so drift in the machine's load hits both alike
        order = ("a", "b") if rep % 2 == 0 else ("b", "a")
        for t in order:
            binary = args.a if t == "a" else args.b
            lab.clean()
            for phase in ("first", "second"):
                logf = os.path.join(work, "logs", f"compare-{t}-{rep}-{phase}.log")
                cmd = [os.path.abspath(binary), "run", pb, "-i", lab.inventory, "-f", str(len(lab.hosts))]
                run = bench.timed(cmd, log_file=logf)
                ch = bench.recap(run.out, len(lab.hosts), f"{t} {phase}")
                if (phase == "second") != (ch == 0):
                    raise SystemExit(f"{t} {phase} run changed {ch} things (log: {logf})")
                res[t][phase].append(run.wall)
                if run.rss_kb:
                    res[t]["rss"].append(run.rss_kb / 1024)
                bench.log(f"{t} rep {rep + 1}/{args.reps} {phase}: {run.wall:.2f} s")
    lab.clean()
    med = statistics.median
    print(f"{len(lab.hosts)} hosts ({args.set}), 50-task playbook, {args.reps} repetitions, medians (min-max)\n")
    print("| | first run | second run (idempotent) | peak RSS |")
    print("| --- | --- | --- | --- |")
    for t, name in (("a", args.a), ("b", args.b)):
        r = res[t]
        print(f"| {t}: `{name}` | {med(r['first']):.2f} s ({min(r['first']):.2f}-{max(r['first']):.2f}) "
              f"| {med(r['second']):.2f} s ({min(r['second']):.2f}-{max(r['second']):.2f}) "
              f"| {med(r['rss']):.0f} MB |")
    for phase in ("first", "second"):
        ratios = [b / a for a, b in zip(res["a"][phase], res["b"][phase])]
        print(f"\nb / a, {phase} run: median {med(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
