#!/usr/bin/env python3
"""Runs ansible-core's integration targets under prov (and ansible-core as the reference) on
lab hosts, the way `ansible-test integration` runs a role target, and writes the results table.

Called by tests/ansible-targets/run.sh, which prepares everything (the ansible-core source
distribution, the reference virtualenv, prov, the lab). See tests/ansible-targets/README.md.

Every target runs on freshly reset lab hosts (tests/lab/reset-host.sh), never on the machine
running the harness: per tool a controller host (prov, or ansible-playbook from the reference
virtualenv, copied there) and a target host (`testhost`); a runme.sh target runs on one host
that is its own controller. Per tool and target the harness records the exit code, the results of
every task (prov's `--output json` events; for ansible-core a small callback of ours in
callback_plugins/ that writes the same shape), the asserts that passed and failed, the first
failure and the wall time.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def log(msg):
    print(f"[targets {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_yaml(path):
    import yaml  # the reference virtualenv has PyYAML (ansible-core needs it)
    with open(path) as f:
        return yaml.safe_load(f)


# ---------------------------------------------------------------- targets

def expected(path):
    """The targets listed in passing.txt (CI)."""
    want = [l.split("#")[0].strip() for l in open(path)]
    return [w for w in want if w]


def runme(targets_dir, name):
    return os.path.exists(os.path.join(targets_dir, name, "runme.sh"))


def aliases(targets_dir, name):
    p = os.path.join(targets_dir, name, "aliases")
    if not os.path.exists(p):
        return []
    out = []
    for line in open(p):
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def gather_facts(al):
    # as ansible-test: yes unless the target says gather_facts/no
    return "gather_facts/no" not in al


# ---------------------------------------------------------------- one run

# Lab hosts: one per tool. As `ansible-test integration` runs by default (in a container that
# is both controller and `testhost`), every target runs on its host as its own controller with
# `testhost` local; targets marked needs/ssh reach it over the host's own sshd (127.0.0.1) with the lab
# key installed as root's key. Nothing runs on the machine running the harness.
# PROV_TARGETS_HOSTS (e.g. "prov=5") picks other hosts, so several harness runs can share a lab.
HOSTS = {"prov": 1, "ansible": 2}
for _kv in filter(None, os.environ.get("PROV_TARGETS_HOSTS", "").split(",")):
    _tool, _n = _kv.split("=")
    HOSTS[_tool] = int(_n)


INVENTORY_LOCAL = ("[testgroup]\ntesthost ansible_connection=local ansible_pipelining=yes "
                   "ansible_python_interpreter=/usr/bin/python3\n")
# ansible-test's inventory for a needs/ssh target (create_posix_inventory): testhost over SSH to
# the controller itself.
INVENTORY_SSH = ("[testgroup]\ntesthost ansible_connection=ssh ansible_pipelining=yes "
                 "ansible_python_interpreter=/usr/bin/python3 ansible_host=127.0.0.1 "
                 "ansible_port=22 ansible_user=root "
                 "ansible_ssh_private_key_file=/root/.ssh/id_ed25519\n")


def inventory(al):
    return INVENTORY_SSH if "needs/ssh" in al else INVENTORY_LOCAL


def playbook(name, gather, output_dir):
    # The play ansible-test writes for a role target (command_integration_role), as YAML.
    return (
        "- hosts: testhost\n"
        f"  gather_facts: {'true' if gather else 'false'}\n"
        "  vars_files: []\n"
        f"  vars:\n    output_dir: {json.dumps(output_dir)}\n"
        f"  roles:\n    - {name}\n"
    )


def parse_events(path):
    """Task results from a JSON Lines event file: [(task, action, host, status, ignored, msg)],
    one per task and host (loop items folded: failed if any item failed)."""
    tasks = []  # [{"name","action","results": {host: [..]}}]
    if not os.path.exists(path):
        return []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        kind = ev.get("event")
        if kind == "task_start":
            tasks.append({"name": ev.get("name"), "action": ev.get("action") or "",
                          "handler": bool(ev.get("handler")), "results": {}})
        elif kind == "host_result":
            if not tasks:
                tasks.append({"name": ev.get("task"), "action": ev.get("action") or "", "results": {}})
            t = tasks[-1]
            if not t["action"] and ev.get("action"):
                t["action"] = ev["action"]
            t["results"].setdefault(ev.get("host"), []).append(
                (ev.get("status"), bool(ev.get("ignored")), ev.get("msg")))
    out = []
    for t in tasks:
        for host, rs in t["results"].items():
            status, ignored, msg = "ok", False, None
            for st, ig, m in rs:
                if st in ("failed", "unreachable") and not ig:
                    status, ignored, msg = st, False, m
                    break
                if st in ("failed", "unreachable"):
                    status, ignored, msg = st, True, m
                elif st == "changed" and status == "ok":
                    status = "changed"
                elif st == "skipped" and len(rs) == 1:
                    status = "skipped"
            out.append((t["name"], t["action"], host, status, ignored, msg, t.get("handler", False)))
    return out


def short(s, n=160):
    s = " ".join(str(s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def last_error(text):
    lines = [l for l in text.splitlines() if l.strip()]
    for l in lines:
        if l.startswith("error") or "ERROR" in l:
            return l
    return lines[-1] if lines else ""


def stripped(args):
    """prov without debug symbols (a debug build is ~700 MB, ~60 MB stripped): it is copied
    to the lab host for every target."""
    if not shutil.which("strip"):
        return args.prov
    dest = os.path.join(args.work, "bin", "prov")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(args.prov, dest + ".tmp")
    subprocess.run(["strip", "--strip-debug", dest + ".tmp"], check=True)
    os.replace(dest + ".tmp", dest)
    return dest


def wheels(args, reqs):
    """The Python packages runme.sh scripts pip-install, downloaded here from PyPI: the lab
    hosts have no internet (ansible-test's containers do), so their pip finds them in this
    folder (PIP_FIND_LINKS, PIP_NO_INDEX)."""
    d = os.path.join(args.work, "wheels")
    stamp = os.path.join(d, "requirements.txt")
    want = "".join(f"{r}\n" for r in reqs)
    if not (os.path.exists(stamp) and open(stamp).read() == want):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        if reqs:
            subprocess.run([os.path.join(args.venv, "bin", "pip"), "download", "-q",
                            "--disable-pip-version-check", "-d", d, *reqs], check=True)
        with open(stamp, "w") as f:
            f.write(want)
    return d


def bundle(args, tool):
    """A tar of what a controller host needs for `tool`, at the same absolute paths as here:
    the integration folder (with ansible-test's `inventory` for runme.sh targets), prov with an
    `ansible-playbook` shim, our callback, the lab's key and known_hosts (for needs/ssh
    targets) and the reference virtualenv (ansible-core's `ansible-playbook`, and for prov the
    Python package a user's controller has). Built once per tool and harness run."""
    path = os.path.join(args.work, f"bundle-{tool}.tar")
    built = getattr(args, "_bundles", set())
    if tool in built:
        return path
    shim = os.path.join(args.work, "shim")
    shutil.rmtree(shim, ignore_errors=True)
    os.makedirs(os.path.join(shim, "prov"))
    os.makedirs(os.path.join(shim, "common"))
    with open(os.path.join(shim, "prov", "ansible-playbook"), "w") as f:
        f.write(f'#!/bin/sh\n# prov in place of ansible-playbook (tests/ansible-targets)\nexec {args.prov} run "$@"\n')
    os.chmod(os.path.join(shim, "prov", "ansible-playbook"), 0o755)
    with open(os.path.join(shim, "prov", "ansible"), "w") as f:
        f.write(f'#!/bin/sh\n# prov in place of ansible (tests/ansible-targets)\nexec {args.prov} adhoc "$@"\n')
    os.chmod(os.path.join(shim, "prov", "ansible"), 0o755)
    with open(os.path.join(shim, "prov", "ansible-config"), "w") as f:
        f.write(f'#!/bin/sh\n# prov in place of ansible-config (tests/ansible-targets)\nexec {args.prov} config "$@"\n')
    os.chmod(os.path.join(shim, "prov", "ansible-config"), 0o755)
    with open(os.path.join(shim, "prov", "ansible-inventory"), "w") as f:
        f.write(f'#!/bin/sh\n# prov in place of ansible-inventory (tests/ansible-targets)\nexec {args.prov} inventory "$@"\n')
    os.chmod(os.path.join(shim, "prov", "ansible-inventory"), 0o755)
    # As for a user moving from Ansible, ansible-core is installed on prov's controller: the
    # `python3` on the PATH imports it, and prov runs the modules it has no native
    # implementation of (custom `library/` modules, collections) from there. The other
    # `ansible-*` commands are not on prov's PATH.
    for py in ("python3", "python"):  # scripts use both, as ansible-test's PATH has them
        with open(os.path.join(shim, "prov", py), "w") as f:
            f.write(f'#!/bin/sh\nexec {args.venv}/bin/python3 "$@"\n')
        os.chmod(os.path.join(shim, "prov", py), 0o755)
    # runme.sh scripts `source virtualenv.sh` (ansible-test puts one on the PATH): ours, like
    # ansible-test's, makes a fresh virtualenv in $OUTPUT_DIR/venv that sees the system's
    # packages and activates it (scripts then use files in it).
    with open(os.path.join(shim, "common", "virtualenv.sh"), "w") as f:
        f.write('# sourced by runme.sh scripts (tests/ansible-targets)\n'
                'rm -rf "${OUTPUT_DIR}/venv"\n'
                'ansible_lib=$(python3 -c "import ansible, os; print(os.path.dirname(os.path.dirname(ansible.__file__)))" 2>/dev/null)\n'
                'python3 -m venv --system-site-packages "${OUTPUT_DIR}/venv"\n'
                '# ansible-core stays importable in it, as in ansible-test\'s\n'
                'if [ -n "$ansible_lib" ]; then\n'
                '  for sp in "${OUTPUT_DIR}"/venv/lib/python3*/site-packages; do echo "$ansible_lib" > "$sp/ansible-test-ansible.pth"; done\n'
                'fi\n'
                'set +ux\n'
                '. "${OUTPUT_DIR}/venv/bin/activate"\n'
                'set -ux\n')
    with open(os.path.join(args.integration, "inventory"), "w") as f:
        f.write(INVENTORY_LOCAL)
    data = os.path.join(os.path.dirname(args.integration), "lib", "ansible_test", "_data")
    paths = [args.integration, data, args.prov, shim, HERE, args.key, args.known_hosts, args.wheels]
    paths.append(args.venv)
    rel = [os.path.relpath(p, "/") for p in paths]
    subprocess.run(["tar", "-C", "/", "-cf", path, "--exclude=__pycache__", *rel], check=True)
    args._bundles = built | {tool}
    return path


def ssh_cmd(args, n):
    return ["ssh", "-F", os.path.join(args.lab_dir, ".state", "ssh_config"), "-o", "BatchMode=yes", f"lab{n}"]


def run_target(args, tool, name, script):
    """Runs one target with one tool on freshly reset lab hosts; returns a result dict."""
    work = os.path.join(args.work, "runs", tool, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ctl = HOSTS[tool]
    al = aliases(os.path.join(args.integration, "targets"), name)
    ssh = ssh_cmd(args, ctl)
    with open(bundle(args, tool), "rb") as b:
        subprocess.run(ssh + ["tar -C / -xf -"], stdin=b, check=True)
    integ = args.integration
    out = "/tmp/prov-harness"
    events = f"{out}/events.jsonl"
    output_dir = f"/tmp/output_dir-{name}"
    env = {
        # as ansible-test (ansible_environment, integration_environment)
        "ANSIBLE_FORCE_COLOR": "false",
        "ANSIBLE_NOCOLOR": "true",
        "ANSIBLE_FORCE_HANDLERS": "true",
        "ANSIBLE_HOST_PATTERN_MISMATCH": "error",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_DEVEL_WARNING": "false",
        "OUTPUT_DIR": output_dir,
        # pip installs from the downloaded wheels (see wheels())
        "PIP_FIND_LINKS": args.wheels,
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PAGER": "/bin/cat",
        # ansible-test runs with a UTF-8 locale (ansible-core refuses to start without one)
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        # our event files
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "prov_harness",
        "PROV_HARNESS_EVENTS": events,
        "PROV_EVENTS_FILE": events,
    }
    # ansible-test writes the inventory per target (local, or SSH for needs/ssh targets)
    files = {os.path.join(integ, "inventory"): inventory(al)}
    if script:
        cwd = os.path.join(integ, "targets", name)
        env.update(ANSIBLE_INVENTORY="/dev/null", ANSIBLE_LIBRARY="/dev/null",
                   ANSIBLE_HOST_KEY_CHECKING="false",
                   ANSIBLE_PYTHON_INTERPRETER="/set/ansible_python_interpreter/in/inventory",
                   ANSIBLE_PLAYBOOK_DIR=cwd, INVENTORY_PATH=os.path.join(integ, "inventory"))
        cmd = "./runme.sh"
    else:
        cwd = integ
        files[f"{out}/inventory"] = inventory(al)
        files[f"{integ}/{name}-play.yml"] = playbook(name, gather_facts(al), output_dir)
        env.update(ANSIBLE_ROLES_PATH=os.path.join(integ, "targets"), ANSIBLE_PLAYBOOK_DIR=integ,
                   INVENTORY_PATH=f"{out}/inventory", ANSIBLE_HOST_KEY_CHECKING="false")
        if tool == "prov":
            cmd = f"{args.prov} run {name}-play.yml -i {out}/inventory"
        else:
            cmd = f"{args.venv}/bin/ansible-playbook {name}-play.yml -i {out}/inventory"
    shim = os.path.join(args.work, "shim")
    bindir = (os.path.join(shim, "prov") if tool == "prov" else os.path.join(args.venv, "bin"))
    bindir += ":" + os.path.join(shim, "common")
    # needs/ssh targets (delegate_to, fetch) log in to this host itself as root.
    lines = [f"rm -rf {out} && mkdir -p {out} {output_dir} && "
             f"install -m 600 {shlex.quote(args.key)} /root/.ssh/id_ed25519"]
    for path, text in files.items():
        lines.append(f"cat > {shlex.quote(path)} <<'PROV_HARNESS_EOF'\n{text}PROV_HARNESS_EOF")
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    lines.append(
        f"cd {shlex.quote(cwd)} && t0=$(date +%s.%N) && "
        f"{{ env {exports} PATH={bindir}:$PATH timeout {args.timeout} {cmd} "
        f">{out}/stdout.log 2>{out}/stderr.log; echo $? >{out}/rc; }}; "
        f"t1=$(date +%s.%N); echo \"$t0 $t1\" >{out}/time")
    r = subprocess.run(ssh + ["bash -s"], input="\n".join(lines) + "\n", text=True,
                       capture_output=True)
    if r.returncode != 0:
        raise SystemExit(f"could not run {name} with {tool} on lab{ctl}: {r.stderr[-2000:]}")
    with open(os.path.join(work, "out.tar"), "wb") as f:
        subprocess.run(ssh + [f"tar -C {out} -cf - ."], stdout=f, check=True)
    subprocess.run(["tar", "-C", work, "-xf", os.path.join(work, "out.tar")], check=True)
    os.unlink(os.path.join(work, "out.tar"))
    rc = int(open(os.path.join(work, "rc")).read().strip() or 1)
    t0, t1 = (float(x) for x in open(os.path.join(work, "time")).read().split())
    timed_out = rc == 124
    extra = open(os.path.join(work, "stdout.log"), encoding="utf-8", errors="replace").read()
    res = summarize(args, os.path.join(work, "events.jsonl"), os.path.join(work, "stderr.log"),
                    extra, rc, timed_out, t1 - t0)
    if script:
        res["tier"] = 2
    return res


def summarize(args, events, stderr_path, extra_output, rc, timed_out, wall):
    """The result of one run from its events, its error output and its exit code."""
    results = parse_events(events)
    asserts_ok = sum(1 for r in results if r[1] in ("assert", "ansible.builtin.assert") and r[3] == "ok")
    asserts_failed = sum(1 for r in results
                         if r[1] in ("assert", "ansible.builtin.assert") and r[3] == "failed" and not r[4])
    # The failure that stopped the run is the last one not ignored (a failure rescued by a
    # block's rescue comes before it, or is the only one when the run passed).
    # Handlers run after a failure (force_handlers): a task's failure is preferred to theirs.
    first = first_handler = None
    for task, action, host, status, ignored, msg, handler in results:
        if status in ("failed", "unreachable") and not ignored:
            if handler:
                first_handler = first_handler or f"{task} (handler, {action}): {short(msg)}"
            else:
                first = f"{task} ({action}): {short(msg)}"
    first = first or first_handler
    if rc == 0 and not timed_out:
        first = None
    if timed_out:
        first = f"timed out after {args.timeout} s" + (f"; before that: {first}" if first else "")
    elif rc != 0 and first is None:
        err = open(stderr_path, encoding="utf-8", errors="replace").read() + extra_output
        first = short(last_error(err), 240) or f"exit code {rc}"
    return {
        "rc": rc,
        "passed": rc == 0 and not timed_out,
        "wall": round(wall, 2),
        "tasks": len(results),
        "asserts_ok": asserts_ok,
        "asserts_failed": asserts_failed,
        "first_failure": first,
    }


def reset(args, hosts):
    r = subprocess.run(["bash", os.path.join(args.lab_dir, "reset-host.sh"), *map(str, hosts)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"could not reset lab hosts {hosts}:\n{r.stderr[-2000:]}")


# ---------------------------------------------------------------- report

def fmt_s(x):
    return "–" if x is None else f"{x:.1f} s"


def write_report(args, cfg, results, out):
    targets_dir = os.path.join(args.integration, "targets")
    rows = []
    counted = passing = 0
    prov_time = ans_time = 0.0
    waited = []  # passing targets whose time is mostly waits they ask for (targets.yaml waits)
    for name in cfg["in_scope"]:
        r = results.get(name, {})
        p, a = r.get("prov"), r.get("ansible")
        if name in cfg.get("excluded", {}):
            continue
        if p is None and runme(targets_dir, name):
            state = "runme.sh (second tier): not run"
        elif p is None:
            state = "not run"
        elif a is not None and not a["passed"]:
            why = short(a.get("first_failure") or "", 120).replace("|", "\\|")
            state = f"not counted: fails under ansible-core here ({why})"
        else:
            counted += 1
            if p["passed"]:
                passing += 1
                state = "**pass**"
                if a is not None:
                    prov_time += p["wall"]
                    ans_time += a["wall"]
                    if name in cfg.get("waits", {}):
                        waited.append((name, p["wall"], a["wall"]))
            else:
                state = "fail"
            if p.get("tier") == 2:
                state += " (runme.sh)"
        def asserts(x):
            return "–" if x is None else f"{x['asserts_ok']} / {x['asserts_failed']}"
        first = short((p or {}).get("first_failure") or "", 200).replace("|", "\\|")
        rows.append(
            f"| {name} | {state} | {asserts(p)} | {asserts(a)} | {fmt_s(p and p['wall'])} | "
            f"{fmt_s(a and a['wall'])} | {first} |"
        )
    pct = 100.0 * passing / counted if counted else 0.0
    ratio = (ans_time / prov_time) if prov_time else None
    lines = [
        "# prov and ansible-core's own integration targets",
        "",
        f"Generated by `tests/ansible-targets/run.sh` on {time.strftime('%Y-%m-%d')} "
        f"(ansible-core {cfg['ansible_core']}'s `test/integration/targets`, run as "
        "`ansible-test integration` runs them: a role target as a play on `testhost` with "
        "`roles: [<target>]` and the targets folder as roles path, a runme.sh target as its "
        "script with prov as `ansible-playbook`; on freshly reset Debian bookworm lab hosts, "
        "with ansible-core itself, from PyPI, on others as the reference). How to run it: "
        "tests/ansible-targets/README.md.",
        "",
        f"**{passing} of {counted} counted targets pass ({pct:.0f}%).** A target counts when "
        "it passes under ansible-core here; the others are listed with ansible-core's failure.",
        "",
    ]
    if ratio:
        lines += [f"Time on the passing targets: prov {prov_time:.1f} s, ansible-core "
                  f"{ans_time:.1f} s ({ratio:.1f}x).", ""]
    if ratio and waited:
        pw = prov_time - sum(w[1] for w in waited)
        aw = ans_time - sum(w[2] for w in waited)
        why = "; ".join(f"{n}: {cfg['waits'][n]['why']}" for n, _, _ in waited)
        if pw > 0:
            lines += [f"Without the targets whose time is mostly waiting they ask for ({why}): "
                      f"prov {pw:.1f} s, ansible-core {aw:.1f} s ({aw / pw:.1f}x).", ""]
        floors = sum(cfg["waits"][n]["floor"] for n, _, _ in waited)
        pf, af = prov_time - floors, ans_time - floors
        if pf > 0:
            lines += [f"Both tools' times on all passing targets less the waiting those targets "
                      f"ask for ({floors} s in all, the `floor`s of `waits` in targets.yaml, "
                      f"which no tool can go under): prov {pf:.1f} s, ansible-core {af:.1f} s "
                      f"({af / pf:.1f}x).", ""]
    lines += [
        "Asserts: passed / failed (`assert` task results per host). First failure: the failed "
        "task that stopped prov's run (or its load error).",
        "",
        "| target | prov | asserts (prov) | asserts (ansible-core) | prov time | ansible-core time | first failure under prov |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "## Excluded",
        "",
        *[f"- {k}: {v}" for k, v in cfg.get("excluded", {}).items()],
        "",
    ]
    with open(out, "w") as f:
        f.write("\n".join(lines))
    return passing, counted


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--integration", required=True, help="the copied test/integration folder")
    ap.add_argument("--prov", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--lab-dir", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--tools", default="prov,ansible")
    ap.add_argument("--only", default="", help="comma list of targets (default: all in scope)")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--scripts", action="store_true", help="also the runme.sh targets (second tier)")
    ap.add_argument("--out", help="write the results table here (COMPAT.md)")
    ap.add_argument("--expect", help="a file of targets that must pass under prov (CI)")
    args = ap.parse_args()
    args.prov = stripped(args)

    cfg = load_yaml(os.path.join(HERE, "targets.yaml"))
    args.wheels = wheels(args, cfg.get("wheels", []))
    targets_dir = os.path.join(args.integration, "targets")
    names = [n for n in cfg["in_scope"] if n not in cfg.get("excluded", {})]
    if args.only:
        names = [n for n in args.only.split(",") if n]
    elif args.expect:
        # CI: the targets that must keep passing (the others cannot fail the run)
        names = [n for n in names if n in expected(args.expect)]
    tools = [t for t in args.tools.split(",") if t]
    saved_path = os.path.join(args.work, "results.json")
    results = json.load(open(saved_path)) if os.path.exists(saved_path) else {}
    for name in names:
        if not os.path.isdir(os.path.join(targets_dir, name)):
            log(f"{name}: no such target, skipped")
            continue
        script = runme(targets_dir, name)
        if script and not args.scripts:
            log(f"{name}: runme.sh target (second tier), not run")
            continue
        # Reset every host used at once, then run the tools one after the other (fair times).
        reset(args, sorted({HOSTS[t] for t in tools}))
        for tool in tools:
            r = run_target(args, tool, name, script)
            results.setdefault(name, {})[tool] = r
            log(f"{name} {tool}: {'pass' if r['passed'] else 'FAIL'} in {r['wall']:.1f} s, "
                f"asserts {r['asserts_ok']} ok / {r['asserts_failed']} failed"
                + ("" if r["passed"] else f"; first failure: {r['first_failure']}"))
        with open(saved_path, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    if args.out:
        passing, counted = write_report(args, cfg, results, args.out)
        log(f"{passing} of {counted} counted targets pass; table in {args.out}")
    if args.expect:
        want = expected(args.expect)
        lost = [w for w in want if not results.get(w, {}).get("prov", {}).get("passed")]
        if lost:
            for w in lost:
                log(f"REGRESSION: {w} passed before and fails now: "
                    f"{results.get(w, {}).get('prov', {}).get('first_failure')}")
            sys.exit(1)
        log(f"all {len(want)} expected targets pass")


if __name__ == "__main__":
    main()
