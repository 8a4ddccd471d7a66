#!/usr/bin/env python3
"""prov at 1,000 hosts on one controller (bench/scale.sh runs this; see its header).

Measures, on the N loopback sshd hosts of tests/lab/many.sh (sharing this machine's 2 CPUs
with the controller): the 50-task main playbook of bench/bench.py, first and idempotent run;
a one-task run (connection set-up for every host, i.e. the time to the first task); fact
gathering with a template; a 10 MB copy; and the same one-task run with one more host that
never answers (its connection times out; the others must not wait for it beyond that). For
each: wall time, the controller's peak RSS, and prov's own CPU time (user + system of the
prov process, from /usr/bin/time -v) against the run's total CPU (the whole machine's, from
/proc/stat), so that the share the controller takes is printed, not guessed.

Writes the section between <!-- scale:start --> and <!-- scale:end --> of BENCHMARKS.md.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the playbooks, the recap check, Lab)

START, END = "<!-- scale:start -->", "<!-- scale:end -->"


def write_section(out, start, end, text):
    """Replaces the section of `out` between the markers `start` and `end` (which `text`
    carries) with `text`, or appends it; prints it."""
    old = open(out).read() if os.path.exists(out) else ""
    if start in old and end in old:
        new = old[: old.index(start)] + text + old[old.index(end) + len(end) + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(out, "w") as f:
        f.write(new)
    print(text)


def cpu_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle


def run(cmd, log_file, nhosts=None, what="", expect_changed=None):
    return run_env(cmd, None, log_file, nhosts, what, expect_changed)


def run_env(cmd, env, log_file, nhosts=None, what="", expect_changed=None):
    """`run` with an environment for the command (None: this one's)."""
    tv = log_file + ".time"
    j0 = cpu_jiffies()
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v", "-o", tv] + cmd, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    busy = (cpu_jiffies() - j0) / os.sysconf("SC_CLK_TCK")
    out = p.stdout.decode("utf-8", "replace")
    with open(log_file, "w") as f:
        f.write(out)
    t = open(tv).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
    r = {"wall": wall, "rss": rss, "prov_cpu": user + sys_, "total_cpu": busy, "rc": p.returncode}
    if nhosts is not None:
        rows = bench.RECAP.findall(out)
        lost = [x[0] for x in rows if int(x[3])]
        if lost and len(rows) == nhosts and not any(int(x[4]) for x in rows):
            # a host that dropped its connection under the load: counted and shown, not fatal
            r["unreachable"] = len(lost)
            bench.log(f"{what}: {len(lost)} host(s) unreachable ({', '.join(lost[:5])})")
            return r
        if p.returncode != 0:
            raise SystemExit(f"{what} failed (rc {p.returncode}), log {log_file}\n{out[-3000:]}")
        ch = bench.recap(out, nhosts, what)
        r["changed"] = ch
        if expect_changed == 0 and ch != 0:
            raise SystemExit(f"{what}: changed {ch}, expected none (log {log_file})")
        if expect_changed == "some" and ch == 0:
            raise SystemExit(f"{what}: changed nothing (log {log_file})")
    bench.log(f"{what}: {wall:.1f} s, peak RSS {rss:.0f} MB, prov CPU {user + sys_:.1f} s "
              f"of {busy:.1f} s busy")
    return r


def row(name, r):
    share = 100.0 * r["prov_cpu"] / r["total_cpu"] if r["total_cpu"] else 0.0
    if r.get("unreachable"):
        name += f" ({r['unreachable']} host(s) dropped the connection)"
    return (f"| {name} | {r['wall']:.1f} s | {r['rss']:.0f} MB | {r['prov_cpu']:.1f} s | "
            f"{r['total_cpu']:.1f} s | {share:.0f} % |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prov", required=True)
    ap.add_argument("--lab-state", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    # The hosts share the controller's CPUs: at load averages above 100, a live host's sshd can
    # take more than 10 s to start and exchange keys (OpenSSH's ConnectTimeout, which Ansible's
    # `timeout` sets, covers the key exchange too). The dead host's run keeps the default 10 s.
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("--dead-timeout", type=int, default=10)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.work, "logs"), exist_ok=True)
    pb = bench.write_playbooks(args.work)
    lab = bench.lab_of(args.lab_state, "many")
    inv = lab.inventory
    n = len(lab.hosts)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    logs = os.path.join(args.work, "logs")
    prov = [args.prov, "run", "-i", inv, "-f", str(n), "-T", str(args.timeout)]
    one = os.path.join(args.work, "one.yml")
    with open(one, "w") as f:
        f.write("- hosts: all\n  gather_facts: false\n  tasks:\n"
                "    - file: { path: /tmp/prov-bench, state: directory }\n")
    # one more host, on an address nothing answers (packets dropped): its connection times out
    dead_inv = os.path.join(args.work, "with-dead-host.yaml")
    with open(inv) as f, open(dead_inv, "w") as g:
        text = f.read()
        g.write(text)
        g.write("\nneverup:\n  hosts:\n    dead1:\n      ansible_host: 10.255.255.1\n"
                "      ansible_port: 22\n")
    blob = os.path.join(args.work, "blob-10M.bin")
    if not os.path.exists(blob) or os.path.getsize(blob) != 10 * 1024 * 1024:
        with open(blob, "wb") as f:
            f.write(os.urandom(10 * 1024 * 1024))
    res = {}
    lab.clean()
    res["connect"] = run(prov + [one], f"{logs}/scale-one.log", n, "one task (connections)")
    lab.clean()
    res["first"] = run(prov + [pb["main.yml"]], f"{logs}/scale-first.log", n, "main, first run", "some")
    res["second"] = run(prov + [pb["main.yml"]], f"{logs}/scale-second.log", n, "main, idempotent run", 0)
    res["facts"] = run(prov + [pb["facts.yml"]], f"{logs}/scale-facts.log", n, "facts + template (converged)")
    lab.clean()
    res["copy"] = run(prov + [pb["copy.yml"], "-e", f"blob={blob}"], f"{logs}/scale-copy.log", n,
                      "10 MB copy", "some")
    lab.clean()
    dead = [args.prov, "run", "-i", dead_inv, "-f", str(n + 1), "-T", str(args.dead_timeout), one]
    res["dead"] = run(dead, f"{logs}/scale-dead.log", None, "one task, plus a host that never answers")
    dout = open(f"{logs}/scale-dead.log").read()
    rows = bench.RECAP.findall(dout)
    unreachable = [r[0] for r in rows if int(r[3])]
    if unreachable != ["dead1"] or len(rows) != n + 1:
        raise SystemExit(f"the dead host run: expected only dead1 unreachable, got {unreachable[:5]}")
    lab.clean()
    load1 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    m = bench.machine()
    L = [START, "", f"## {n} hosts from one controller (bench/scale.sh)", "",
         f"Measured {started} UTC by `bench/scale.sh` on {m['nproc']} CPUs ({m['cpu']}), with "
         f"{n} sshd hosts on loopback (`tests/lab/many.sh {n}`) sharing those CPUs with the "
         f"controller; load average {load0} at the start, {load1} at the end. One run each; "
         f"forks = {n}, connection timeout {args.timeout} s (the hosts' sshd share those CPUs: "
         "at load averages above 100 a live one can take more than the default 10 s to start "
         "and exchange keys; the dead-host run keeps 10 s). *prov CPU* is the prov process's "
         "user + system time; *machine CPU* is the busy time of all CPUs during the run (the "
         "hosts' sshd, shells and tools, and prov); the share is prov's part of it.", "",
         "| run | wall | controller peak RSS | prov CPU | machine CPU | prov's share |",
         "| --- | --- | --- | --- | --- | --- |",
         row("one task (connect to every host)", res["connect"]),
         row("main playbook, first run (50 tasks)", res["first"]),
         row("main playbook, idempotent run", res["second"]),
         row("facts + template (converged)", res["facts"]),
         row("10 MB copy to every host", res["copy"]),
         row(f"one task, plus one host that never answers (-T {args.dead_timeout})", res["dead"]),
         "",
         f"With a host that never answers, the run took {res['dead']['wall']:.1f} s against "
         f"{res['connect']['wall']:.1f} s without it: the others do not wait for it beyond its "
         f"{args.dead_timeout} s connection timeout (it is reported unreachable).", "",
         END]
    write_section(args.out, START, END, "\n".join(L) + "\n")


if __name__ == "__main__":
    main()
