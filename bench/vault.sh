#!/usr/bin/env bash
# Vault decryption at scale (issue: ansible/ansible #81994, "90% of a run spent decrypting"):
# many vaulted variables, each read by every host. Prints one table of numbers; no lab needed
# (the hosts are local aliases with ansible_connection=local).
#   bench/vault.sh                    K=40 vaulted strings + 1 vaulted vars file, H=50 hosts
# Environment: PROV_VAULT_K, PROV_VAULT_H, PROV (a prov binary; default: build release),
#   PROV_VAULT_ANSIBLE (an ansible-playbook; default target/bench/venv or the targets' venv;
#   "none" skips the reference).
# Writes the vault section of BENCHMARKS.md (PROV_BENCH_OUT: elsewhere).
# What it shows: every host templates every vaulted value, so a run decrypts H*K values; prov
# derives each key (PBKDF2-SHA256, 10,000 rounds) once per password and salt, so its cost grows
# with K, not with H*K. The last line times `prov vault view` of one file, i.e. one derivation.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
K="${PROV_VAULT_K:-40}"
H="${PROV_VAULT_H:-50}"
WORK="$ROOT/target/bench/vault"
if [ -z "${PROV:-}" ]; then
    (cd "$ROOT" && cargo build --release --no-default-features -q --bin prov)
    PROV="$ROOT/target/release/prov"
fi
ANS="${PROV_VAULT_ANSIBLE:-}"
if [ -z "$ANS" ]; then
    for c in "$ROOT/target/bench/venv/bin/ansible-playbook" \
        "$ROOT/target/ansible-targets/venv/bin/ansible-playbook"; do
        [ -x "$c" ] && { ANS="$c"; break; }
    done
fi
[ -z "$ANS" ] && ANS=none

rm -rf "$WORK"
mkdir -p "$WORK/group_vars/all"
umask 077
printf 'bench-vault-password\n' >"$WORK/pass"
# One vaulted string per variable (each has its own salt, as encrypt_string writes them).
{
    for i in $(seq 1 "$K"); do
        printf 'secret %s for the benchmark\n' "$i" |
            "$PROV" vault encrypt_string --vault-password-file "$WORK/pass" --stdin-name "v$i" 2>/dev/null
    done
} >"$WORK/group_vars/all/strings.yml"
# And a whole vaulted vars file.
printf 'db_password: hunter2\napi_token: abc123\n' >"$WORK/group_vars/all/file.yml"
"$PROV" vault encrypt --vault-password-file "$WORK/pass" "$WORK/group_vars/all/file.yml" >/dev/null 2>&1
{
    echo "[all]"
    for h in $(seq 1 "$H"); do echo "h$h ansible_connection=local ansible_python_interpreter=/usr/bin/python3"; done
} >"$WORK/hosts"
refs=""
for i in $(seq 1 "$K"); do refs="$refs{{ v$i | length }},"; done
cat >"$WORK/site.yml" <<EOF
- hosts: all
  gather_facts: false
  tasks:
    - name: every vaulted value on every host
      set_fact:
        lengths: "$refs{{ db_password }}{{ api_token }}"
    - name: check one
      assert:
        that: lengths.startswith('27,') and lengths.endswith('hunter2abc123')
        quiet: true
EOF

time_of() {   # command...: prints wall seconds; fails with the command's output when it fails
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$("$@" 2>&1) || { printf '%s\n' "$out" | tail -20 >&2; return 1; }
    t1=$(date +%s.%N)
    python3 -c "print('%.2f' % ($t1 - $t0))"
}
cd "$WORK"
P=$(time_of "$PROV" run site.yml -i hosts --vault-password-file pass -f 10)
P2=$(time_of "$PROV" run site.yml -i hosts --vault-password-file pass -f 10)
V=$(time_of "$PROV" vault view --vault-password-file pass group_vars/all/file.yml)
A="-"
if [ "$ANS" != none ]; then
    A=$(ANSIBLE_HOST_KEY_CHECKING=False time_of "$ANS" site.yml -i hosts --vault-password-file pass -f 10)
fi
n=$((H * (K + 2)))
echo "vault: $K vaulted strings + 1 vaulted file (2 values), $H hosts: $n decryptions per run"
echo "| | wall | per decryption |"
echo "| --- | --- | --- |"
ANS_VERSION=-
[ "$ANS" != none ] && ANS_VERSION="$("$ANS" --version | head -1)"
python3 - "$P" "$P2" "$A" "$V" "$n" "$K" "$H" "${PROV_BENCH_OUT:-$ROOT/BENCHMARKS.md}" "$ANS_VERSION" <<'EOF'
import datetime, os, sys
p, p2, a, v, n, k, h, out, ansv = sys.argv[1:10]
n = int(n)
rows = []
def row(name, t):
    if t == "-":
        rows.append(f"| {name} | not run | |")
    else:
        rows.append(f"| {name} | {float(t):.2f} s | {float(t) / n * 1e6:.0f} µs |")
row("prov run", p)
row("prov run (again)", p2)
row(f"ansible-playbook ({ansv})", a)
rows.append(f"| prov vault view (one file: one key derivation, process start included) | {float(v):.3f} s | |")
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
load = " ".join(f"{x:.2f}" for x in os.getloadavg())
text = "\n".join([
    "<!-- vault:start -->", "",
    "## Vault decryption at scale (bench/vault.sh)", "",
    f"Measured {when} UTC by `bench/vault.sh` (load average {load} at the end), one run each: {k} "
    "vaulted strings (each with its own salt, as `encrypt_string` writes them) and one vaulted "
    f"vars file in `group_vars/all/`, read by every one of {h} hosts (local connection) in one "
    f"`set_fact`: {n} decryptions per run.", "",
    "| | wall | per decryption |", "| --- | --- | --- |", *rows, "",
    (f"ansible-playbook / prov: {float(a) / float(p):.1f}x. " if a != "-" else "")
    + "prov derives each key (PBKDF2-SHA256, 10,000 rounds) once per password and salt and "
    "decrypts each value once per run, so the cost grows with the number of distinct vaulted "
    "values, not with hosts × values (ansible/ansible #81994).", "",
    "<!-- vault:end -->", ""])
print(text)
old = open(out).read() if os.path.exists(out) else ""
s, e = "<!-- vault:start -->", "<!-- vault:end -->"
if s in old and e in old:
    new = old[: old.index(s)] + text + old[old.index(e) + len(e) + 1:]
else:
    new = old.rstrip("\n") + "\n\n" + text
open(out, "w").write(new)
EOF
