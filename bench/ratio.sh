#!/usr/bin/env bash
# prov against ansible-core at N loopback hosts, idempotent run (as root; it starts the hosts):
#   bench/ratio.sh [N] [FORKS]   N hosts (default 300, tests/lab/many.sh), ansible-core's forks
#                                (default 50). The hosts are converged by one prov run; then
#                                prov's idempotent run 3 times and ansible-core's once (it
#                                must report changed=0). Writes the ratio section of
#                                BENCHMARKS.md. ansible-core takes about 40 minutes at 300.
# Environment: PROV (a prov binary; default: build release), PROV_LAB_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-300}"
FORKS="${2:-50}"
LAB_DIR="${PROV_LAB_DIR:-$ROOT/tests/lab}"
WORK="$ROOT/target/bench"
[ "$(id -u)" -eq 0 ] || { echo "bench/ratio.sh must run as root (it starts the hosts)" >&2; exit 1; }
. "$ROOT/bench/lib.sh"
bench_prov "$ROOT"
bench_packages time python3-venv
bench_ansible_venv "$WORK"
bash "$LAB_DIR/many.sh" "$N"
python3 "$ROOT/bench/ratio.py" --prov "$PROV" --venv "$WORK/venv" --lab-state "$LAB_DIR/.state" \
    --work "$WORK" --out "${PROV_BENCH_OUT:-$ROOT/BENCHMARKS.md}" --forks "$FORKS"
