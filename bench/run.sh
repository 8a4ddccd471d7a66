#!/usr/bin/env bash
# prov vs ansible-core, one command on a clean clone (as root: it brings up the lab):
#   bench/run.sh            the full benchmark; writes BENCHMARKS.md at the top of the repository
#   bench/run.sh --smoke    one repetition on the 3 lab hosts, no loopback hosts, no copy;
#                           checks that everything runs (and that the second runs change
#                           nothing) without asserting times; writes target/bench/SMOKE.md
# Installs what it needs (apt: time python3-venv openssh-client; PyPI: ansible-core 2.19 into
# target/bench/venv), builds prov (release, --no-default-features: the AWS SDK is not needed),
# brings up 3 lab hosts and 100 sshds on loopback with tests/lab (see tests/lab/README.md) and
# leaves them up (tests/lab/down.sh removes them).
# Environment:
#   PROV_LAB_DIR         the tests/lab folder whose lab to use (default: this clone's)
#   PROV_BENCH_REPS      repetitions (default 5; 1 with --smoke)
#   PROV_BENCH_ANSIBLE_MANY_REPS  ansible repetitions on the 100 loopback hosts (default: the same)
#   PROV_BENCH_HOSTS     number of loopback hosts (default 100)
#   PROV_BENCH_NOTE      a sentence about the conditions, printed in the report
#   PROV_BENCH_OUT       where to write the report
#   PROV_BENCH_SETS      host sets to measure: lab (3 lab hosts), many (loopback); default both
#   PROV_BENCH_REUSE_ANSIBLE=1  do not run ansible-core: report its numbers from the saved
#                        results of the last full run (with that run's date)
#   PROV_BENCH_REUSE=1   also report the saved results (target/bench/results-SET.json) of the
#                        sets not measured this time (PROV_BENCH_SETS= only rewrites the report)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
LAB_DIR="${PROV_LAB_DIR:-$ROOT/tests/lab}"
WORK="$ROOT/target/bench"
mkdir -p "$WORK"
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh must run as root (it brings up the lab)" >&2; exit 1; }

. "$ROOT/bench/lib.sh"
log "packages"
bench_packages time python3 python3-venv openssh-client

log "prov (cargo build --release --no-default-features)"
PROV=
bench_prov "$ROOT"

log "ansible-core 2.19 (virtualenv $WORK/venv)"
PY=/usr/bin/python3
bench_ansible_venv "$WORK"
ANSIBLE_VERSION="$("$WORK/venv/bin/ansible-playbook" --version)"
ANSIBLE_VERSION="${ANSIBLE_VERSION%%$'\n'*}"                      # first line: ansible-playbook [core X]
ANSIBLE_VERSION="ansible-core ${ANSIBLE_VERSION##*core }"; ANSIBLE_VERSION="${ANSIBLE_VERSION%]}"

log "lab ($LAB_DIR)"
bash "$LAB_DIR/up.sh" 3
HOSTS="${PROV_BENCH_HOSTS:-100}"
sets=lab
[ $SMOKE -eq 0 ] && sets="${PROV_BENCH_SETS-lab,many}"
case ",$sets," in *,many,*) bash "$LAB_DIR/many.sh" "$HOSTS";; esac

REPS="${PROV_BENCH_REPS:-5}"
COPY_REPS=3
OUT="${PROV_BENCH_OUT:-$ROOT/BENCHMARKS.md}"
if [ $SMOKE -eq 1 ]; then
    REPS=1
    COPY_REPS=0
    OUT="${PROV_BENCH_OUT:-$WORK/SMOKE.md}"
fi
smoke_flag=()
[ $SMOKE -eq 1 ] && smoke_flag=(--smoke)
log "running (repetitions: $REPS; host sets: $sets)"
exec "$PY" "$ROOT/bench/bench.py" \
    --prov "$PROV" --prov-version "$("$PROV" --version)" --no-default-features \
    --venv "$WORK/venv" --ansible-version "$ANSIBLE_VERSION" \
    --work "$WORK" --lab-state "$LAB_DIR/.state" --sets "$sets" \
    --reps "$REPS" --ansible-many-reps "${PROV_BENCH_ANSIBLE_MANY_REPS:-$REPS}" \
    --copy-reps "$COPY_REPS" --note "${PROV_BENCH_NOTE:-}" \
    --out "$OUT" --json "$WORK/results.json" "${smoke_flag[@]}" \
    ${PROV_BENCH_REUSE:+--reuse} ${PROV_BENCH_REUSE_ANSIBLE:+--reuse-ansible}
