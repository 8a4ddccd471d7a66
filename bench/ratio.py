#!/usr/bin/env python3
"""prov against ansible-core on the idempotent run at N loopback hosts (bench/ratio.sh runs
this; see its header).

ansible-core takes minutes per run here (12-13 at 100 hosts), so at 300 or 1,000 hosts only
its idempotent run is measured, once: the hosts are converged by one prov run of the same
50-task playbook, and ansible-core's run must then report changed=0 on every host (which also
checks that prov converged them as ansible-core would). prov's idempotent run is measured
`--reps` times around it. Wall time, the controller's peak RSS and its own CPU, as
bench/scale.py measures them.

Writes the section between <!-- ratio:start --> and <!-- ratio:end --> of BENCHMARKS.md.
"""
import argparse
import datetime
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the playbooks, Lab, the ansible-core configuration)
import scale  # noqa: E402  (timed runs with peak RSS and CPU)

START, END = "<!-- ratio:start -->", "<!-- ratio:end -->"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prov", required=True)
    ap.add_argument("--venv", required=True, help="a virtualenv with ansible-core")
    ap.add_argument("--lab-state", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--forks", type=int, default=50, help="ansible-core's forks")
    ap.add_argument("--reps", type=int, default=3, help="prov's idempotent runs")
    args = ap.parse_args()
    logs = os.path.join(args.work, "logs")
    os.makedirs(logs, exist_ok=True)
    pb = bench.write_playbooks(args.work)["main.yml"]
    lab = bench.lab_of(args.lab_state, "many")
    inv = lab.inventory
    n = len(lab.hosts)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    prov = [args.prov, "run", "-i", inv, "-f", str(n), "-T", "30", pb]
    lab.clean()
    scale.run(prov, f"{logs}/ratio-prov-first.log", n, "prov, first run (converges the hosts)", "some")
    runs = []
    for i in range(args.reps):
        runs.append(scale.run(prov, f"{logs}/ratio-prov-{i}.log", n, f"prov, idempotent run {i + 1}", 0))
        if i == args.reps // 2 - 1 or args.reps == 1:
            # ansible-core between prov's runs, so that drift in the machine's load hits both
            bench.close_masters(args.work)
            env = bench.ansible_env(args, args.work, lab)
            cmd = [os.path.join(args.venv, "bin", "ansible-playbook"), "-i", inv,
                   "-f", str(args.forks), pb]
            a = scale.run_env(cmd, env, f"{logs}/ratio-ansible.log", n,
                              f"ansible-core, idempotent run (forks {args.forks})", 0)
    # A host given up under the load (counted, not fatal, in scale.run) would make the
    # comparison and the changed=0 claim below untrue: stop instead.
    for what, r in [("ansible-core", a)] + [(f"prov run {i + 1}", r) for i, r in enumerate(runs)]:
        if r.get("unreachable"):
            raise SystemExit(f"{what}: {r['unreachable']} host(s) unreachable; no ratio written")
    lab.clean()
    load1 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    med = statistics.median(r["wall"] for r in runs)
    m = bench.machine()
    walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
    L = [START, "", f"## prov against ansible-core at {n} hosts (bench/ratio.sh)", "",
         f"Measured {started} UTC by `bench/ratio.sh {n}` on {m['nproc']} CPUs ({m['cpu']}), with "
         f"{n} sshd hosts on loopback sharing those CPUs with the controller; load average "
         f"{load0} at the start, {load1} at the end. The hosts were converged by one prov run of "
         f"the 50-task playbook; then prov's idempotent run {args.reps} times, with ansible-core's "
         f"idempotent run once in between (forks {args.forks}; prov's forks {n}). ansible-core "
         "reported changed=0 on every host: it agrees that prov converged them.", "",
         "| idempotent run | wall | controller peak RSS | controller CPU | machine CPU |",
         "| --- | --- | --- | --- | --- |",
         f"| prov (median of {walls} s) | {med:.1f} s | "
         f"{max(r['rss'] for r in runs):.0f} MB | {statistics.median(r['prov_cpu'] for r in runs):.1f} s | "
         f"{statistics.median(r['total_cpu'] for r in runs):.1f} s |",
         f"| ansible-core | {a['wall']:.1f} s | {a['rss']:.0f} MB (its largest process) | "
         f"{a['prov_cpu']:.1f} s (with its forks) | {a['total_cpu']:.1f} s |",
         "", f"**Ratio: {a['wall'] / med:.0f}x** (ansible-core's wall time over prov's median).", "",
         END]
    scale.write_section(args.out, START, END, "\n".join(L) + "\n")


if __name__ == "__main__":
    main()
