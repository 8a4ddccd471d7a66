#!/usr/bin/env bash
# prov at scale on one controller (as root; it starts the loopback hosts):
#   bench/scale.sh [N]     N loopback sshd hosts (default 1000, tests/lab/many.sh), then
#                          bench/scale.py: the 50-task playbook first and idempotent, one task
#                          (connections), facts + template, a 10 MB copy, and one task with a
#                          host that never answers; wall, controller peak RSS, prov's own CPU
#                          and the machine's. Writes the scale section of BENCHMARKS.md.
# Environment: PROV (a prov binary; default: build release), PROV_LAB_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-1000}"
LAB_DIR="${PROV_LAB_DIR:-$ROOT/tests/lab}"
[ "$(id -u)" -eq 0 ] || { echo "bench/scale.sh must run as root (it starts the hosts)" >&2; exit 1; }
. "$ROOT/bench/lib.sh"
bench_prov "$ROOT"
bench_packages time
bash "$LAB_DIR/many.sh" "$N"
# the host that never answers: its packets are dropped (not refused), so connecting times out
iptables -I OUTPUT -d 10.255.255.1 -j DROP
trap 'iptables -D OUTPUT -d 10.255.255.1 -j DROP 2>/dev/null || true' EXIT
python3 "$ROOT/bench/scale.py" --prov "$PROV" --lab-state "$LAB_DIR/.state" \
    --work "$ROOT/target/bench" --out "${PROV_BENCH_OUT:-$ROOT/BENCHMARKS.md}"
