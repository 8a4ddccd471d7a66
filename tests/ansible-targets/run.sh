#!/usr/bin/env bash
# ansible-core's own integration targets under prov (see README.md here). As root: it brings
# up the lab (two hosts, one per tool, reset before every target).
#   tests/ansible-targets/run.sh                 every in-scope target, prov and ansible-core;
#                                                writes COMPAT.md at the top of the repository
#   tests/ansible-targets/run.sh --ci            prov only; fails when a target listed in
#                                                passing.txt stops passing
#   tests/ansible-targets/run.sh --only a,b      these targets only (results are merged into
#                                                target/ansible-targets/results.json)
#   ... --venv-only                              only make the reference virtualenv
#                                                (target/ansible-targets/venv) and the
#                                                collections (target/ansible-targets/collections)
#                                                the module fallback's tests use, and stop
#   ... --scripts                                also the runme.sh targets (second tier: run on
#                                                the tool's lab host, as role targets)
# Environment: PROV_TARGETS_TOOLS (default prov,ansible; prov with --ci), PROV_TARGETS_PROV
# (a prov binary to use instead of building target/release/prov), PROV_LAB_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tests/ansible-targets"
cd "$ROOT"
WORK="$ROOT/target/ansible-targets"
LAB_DIR="${PROV_LAB_DIR:-$ROOT/tests/lab}"
log() { printf '[targets %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

CI_MODE=0
VENV_ONLY=0
SCRIPTS=0
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --ci) CI_MODE=1;;
        --only) ONLY="$2"; shift;;
        --scripts) SCRIPTS=1;;
        --venv-only) VENV_ONLY=1;;
        *) echo "unknown argument: $1" >&2; exit 2;;
    esac
    shift
done
[ "$(id -u)" -eq 0 ] || { echo "run.sh must run as root (it brings up the lab)" >&2; exit 1; }
mkdir -p "$WORK"

need=(python3 python3-venv)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

VERSION="$(sed -n 's/^ansible_core: "\(.*\)"$/\1/p' "$HERE/targets.yaml")"
SHA256="$(sed -n 's/^sdist_sha256: \(.*\)$/\1/p' "$HERE/targets.yaml")"
[ -n "$VERSION" ] && [ -n "$SHA256" ] || { echo "targets.yaml: no ansible_core / sdist_sha256" >&2; exit 1; }

log "ansible-core $VERSION (virtualenv $WORK/venv)"
PY=/usr/bin/python3
if [ ! -x "$WORK/venv/bin/ansible-playbook" ] || ! "$WORK/venv/bin/ansible-playbook" --version | grep -q "core $VERSION"; then
    rm -rf "$WORK/venv"
    "$PY" -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$VERSION" passlib
fi

# Collections from PyPI's `ansible` package (only the ones targets.yaml names are unpacked).
CPKG="$(sed -n 's/^collections_package: "\(.*\)"$/\1/p' "$HERE/targets.yaml")"
CSHA="$(sed -n 's/^collections_sha256: \(.*\)$/\1/p' "$HERE/targets.yaml")"
CNAMES="$(sed -n 's/^collections: "\(.*\)"$/\1/p' "$HERE/targets.yaml")"
COLL="$WORK/collections"
if [ ! -f "$COLL/.from-$CPKG" ]; then
    log "collections $CNAMES (from $CPKG on PyPI)"
    rm -rf "$WORK/collections-wheel" "$COLL.new"
    "$WORK/venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$WORK/collections-wheel" "$CPKG"
    WHEEL="$(ls "$WORK"/collections-wheel/*.whl)"
    echo "$CSHA  $WHEEL" | sha256sum -c --quiet - || { echo "$WHEEL: sha256 differs from targets.yaml" >&2; exit 1; }
    "$PY" - "$WHEEL" "$COLL.new" $CNAMES <<'PYEOF'
import sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
prefixes = tuple("ansible_collections/%s/" % n.replace(".", "/") for n in names)
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.startswith(prefixes)]
    missing = [p for p in prefixes if not any(m.startswith(p) for m in members)]
    if missing:
        sys.exit("%s has no %s" % (wheel, ", ".join(missing)))
    z.extractall(dest, members)
PYEOF
    touch "$COLL.new/.from-$CPKG"
    rm -rf "$COLL" "$WORK/collections-wheel"
    mv "$COLL.new" "$COLL"
fi
# --venv-only: just the reference and the collections (the module fallback's tests use them).
[ $VENV_ONLY -eq 1 ] && exit 0

log "ansible-core $VERSION source distribution (its test/integration/targets)"
SDIST="$WORK/ansible_core-$VERSION.tar.gz"
if [ ! -f "$SDIST" ] || ! echo "$SHA256  $SDIST" | sha256sum -c --quiet - 2>/dev/null; then
    rm -f "$SDIST"
    "$WORK/venv/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: \
        -d "$WORK" "ansible-core==$VERSION"
    echo "$SHA256  $SDIST" | sha256sum -c --quiet - || { echo "checksum mismatch: $SDIST" >&2; exit 1; }
fi
# A fresh copy of the integration folder for every run (targets write into it).
# test/lib/ansible_test/_data too: targets read files from it (setup_remote_constraints).
SRC="$WORK/src"
rm -rf "$SRC" "$WORK/integration" "$WORK/test"
mkdir -p "$SRC"
tar -C "$SRC" -xzf "$SDIST" "ansible_core-$VERSION/test/integration" \
    "ansible_core-$VERSION/test/lib/ansible_test/_data"
mv "$SRC/ansible_core-$VERSION/test" "$WORK/test"
rm -rf "$SRC"

if [ -n "${PROV_TARGETS_PROV:-}" ]; then
    PROV="$PROV_TARGETS_PROV"
else
    log "prov (cargo build --release --no-default-features)"
    cargo build --release --no-default-features -q
    PROV="$ROOT/target/release/prov"
fi

# One host per tool (PROV_TARGETS_HOSTS, e.g. prov=5, moves a tool to another host).
NHOSTS=2
kvs="${PROV_TARGETS_HOSTS:-}"
for kv in ${kvs//,/ }; do [ "${kv#*=}" -gt $NHOSTS ] && NHOSTS="${kv#*=}"; done
log "lab ($LAB_DIR): $NHOSTS hosts (one per tool, each its own controller)"
bash "$LAB_DIR/up.sh" "$NHOSTS"
STATE="$LAB_DIR/.state"

tools="${PROV_TARGETS_TOOLS:-prov,ansible}"
extra=()
if [ $CI_MODE -eq 1 ]; then
    tools="${PROV_TARGETS_TOOLS:-prov}"
    rm -f "$WORK/results.json"
    extra+=(--expect "$HERE/passing.txt")
else
    extra+=(--out "${PROV_TARGETS_OUT:-$ROOT/COMPAT.md}")
fi
[ -n "$ONLY" ] && extra+=(--only "$ONLY")
[ $SCRIPTS -eq 1 ] && extra+=(--scripts)
exec "$WORK/venv/bin/python" "$HERE/harness.py" \
    --integration "$WORK/test/integration" --prov "$PROV" --venv "$WORK/venv" \
    --lab-dir "$LAB_DIR" --key "$STATE/id_ed25519" --known-hosts "$STATE/known_hosts" \
    --work "$WORK" --tools "$tools" "${extra[@]}"
