#!/usr/bin/env bash
# End to end: playbooks/site.yaml takes 3 bare lab hosts to a PostgreSQL HA cluster on Docker
# Swarm, with its security group in a local EC2 emulator (moto), and this script proves it:
#   1. lab up (fresh hosts), moto up, a VPC created in it
#   2. the plan (--check --detailed-exitcode on the bare hosts), then the full run, from bare
#      hosts to a verified cluster (timed); every change the check run could know of was
#      predicted, and every prediction came true
#   3. the security group read back from the emulator: exactly the wanted rules
#   4. a second run: changed=0 on every host (timed)
#   5. one HAProxy setting changed: --check --diff shows exactly that diff and changes nothing,
#      and predicts exactly the tasks the real run then changes;
#      a real run then applies it and the new config is live on every node
#   6. the node holding the primary is stopped: within 60 s every surviving node's HAProxy
#      routes 5432 to a new primary and a write succeeds (timed)
#   7. teardown (lab down, moto stopped) unless --keep
# Usage: tests/e2e/site.sh [--keep] [--reuse] [--deploy]   (as root)
#   --keep    leave the lab up (and the logs) at the end
#   --reuse   keep running lab hosts as they are instead of starting from bare ones
#   --deploy  just deploy: lab + emulator + the run (steps 1-2), then leave the cluster up and say
#             how to reach it (implies --keep --reuse). This is the README's first command.
# Env: PROV (the prov binary; default: cargo build, then target/debug/prov),
#      PROV_E2E_TIMINGS (file to append the timings to).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LAB="$ROOT/tests/lab"
KEEP=0
REUSE=0
DEPLOY=0
for a in "$@"; do
    case "$a" in
        --keep) KEEP=1 ;;
        --reuse) REUSE=1 ;;
        --deploy) DEPLOY=1; KEEP=1; REUSE=1 ;;
        *) echo "usage: $0 [--keep] [--reuse] [--deploy]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "e2e: needs root (the lab uses namespaces and systemd-nspawn)" >&2; exit 1; }

say() { printf '\n[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { printf '\n[e2e] FAILED: %s\n' "$*" >&2; exit 1; }

WORK="$(mktemp -d /tmp/prov-e2e.XXXXXX)"
MOTO_PID=""
cleanup() {
    local rc=$?
    if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
    if [ "$KEEP" = 0 ]; then
        "$LAB/down.sh" >/dev/null 2>&1 || true
        rm -rf "$WORK"
    else
        echo "e2e: kept the lab up and the logs in $WORK" >&2
    fi
    exit $rc
}
trap cleanup EXIT

# ------------------------------------------------------------------ prov, lab, moto
if [ -z "${PROV:-}" ]; then
    # The debug build is what `cargo test` already built; the run's time is spent on the hosts.
    say "building prov"
    (cd "$ROOT" && cargo build --quiet)
    PROV="$ROOT/target/debug/prov"
fi
[ -x "$PROV" ] || fail "no prov binary at $PROV"

if [ "$REUSE" = 0 ]; then
    say "fresh lab: 3 bare hosts"
    "$LAB/down.sh" >/dev/null 2>&1 || true
fi
"$LAB/up.sh" 3
"$LAB/base-image.sh" >/dev/null
SSH=(ssh -F "$LAB/.state/ssh_config" -o BatchMode=yes)

VENV="$ROOT/target/moto-venv"
if [ ! -x "$VENV/bin/moto_server" ]; then
    say "installing moto[server] into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'moto[server]'
fi
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=testing \
    AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
for _ in $(seq 1 60); do
    curl -fsS -o /dev/null "$AWS_ENDPOINT_URL/moto-api/" 2>/dev/null && break
    sleep 0.5
done
ec2() { "$VENV/bin/python" -c "import boto3, json, sys; ec2 = boto3.client('ec2'); $1"; }
PROV_VPC_ID=$(ec2 "print(ec2.create_vpc(CidrBlock='192.168.77.0/24')['Vpc']['VpcId'])")
export PROV_VPC_ID
say "moto at $AWS_ENDPOINT_URL, VPC $PROV_VPC_ID"

cd "$ROOT"
INV=inventory/lab.yaml
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }   # ms -> "12.3"
run() {   # name, args...: runs prov, keeps its output in $WORK/name.log, returns its exit code
    local name="$1"; shift
    local t0 rc=0
    t0=$(now_ms)
    "$PROV" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    LAST_SECS=$(secs $(($(now_ms) - t0)))
    printf '[e2e] %s: exit %s in %s s\n' "$name" "$rc" "$LAST_SECS" >&2
    return $rc
}
recap_check() {   # log, expectation ("changed=0" or "failed=0"): every host's recap line has it
    local log="$1" want="$2" n=0 line
    while read -r line; do
        n=$((n + 1))
        [[ "$line" == *"$want"* ]] || fail "recap line without $want: $line (log $log)"
    done < <(sed -n '/^PLAY RECAP/,$p' "$log" | grep -E '^\S+ +: ok=')
    [ "$n" -ge 4 ] || fail "expected 4 recap lines (localhost + 3 hosts) in $log, got $n"
}

# plan_compare CHECK_EVENTS REAL_EVENTS [exact]: compares the tasks a --check run said would
# change (its `changes` event) with those the real run changed, per host, task and loop item.
# With `exact`, they must be the same set, but for the tasks named after it (whose input a
# task before them rewrites: check mode cannot know). Without, the check run may have stopped early on a
# host (a task that needs what an earlier task installs, e.g. the docker service before
# docker.io is installed: ansible-playbook --check fails there too): every prediction must
# come true, and every change of a task the check run got to must have been predicted.
plan_compare() {
    python3 - "$@" <<'PYEOF'
import json, sys
check, real = sys.argv[1], sys.argv[2]
exact = len(sys.argv) > 3 and sys.argv[3] == "exact"
# tasks whose input is a file an earlier task of the same run rewrites: check mode does not
# rewrite it, so they cannot know (under ansible-playbook --check neither)
unknowable = set(sys.argv[4:])
def events(p):
    return [json.loads(l) for l in open(p) if l.strip().startswith("{")]
def changes(evs):
    out = set()
    for e in evs:
        if e.get("event") == "changes":
            for h, ts in e["hosts"].items():
                for t in ts:
                    out.add((h, t["task"], json.dumps(t.get("item"))))
    return out
cev, rev = events(check), events(real)
predicted, changed = changes(cev), changes(rev)
# the tasks the check run reached on each host (a result, ok or not), and where it failed
reached, failed_at = set(), {}
for e in cev:
    if e.get("event") == "host_result":
        reached.add((e.get("host"), e.get("task")))
        if e.get("status") in ("failed", "unreachable") and not e.get("ignored"):
            failed_at.setdefault(e.get("host"), e.get("task"))
wrong = sorted(predicted - changed)
if exact:
    missed = sorted(c for c in changed - predicted if c[1] not in unknowable)
else:
    missed = sorted(c for c in changed - predicted
                    if (c[0], c[1]) in reached and failed_at.get(c[0]) != c[1])
unknown = sorted(changed - predicted - set(missed))
print(f"[e2e] plan: {len(predicted)} change(s) predicted, {len(changed)} made; "
      f"{len(unknown)} not knowable by the check run", file=sys.stderr)
for h, t in sorted(failed_at.items()):
    print(f"[e2e] plan: check mode stopped on {h} at {t!r} (as ansible-playbook --check does)", file=sys.stderr)
for what, rows in (("predicted but not changed", wrong), ("changed but not predicted", missed)):
    for h, t, i in rows:
        print(f"[e2e] plan: {what}: {h} {t} item={i}", file=sys.stderr)
sys.exit(1 if wrong or missed or (exact and failed_at) else 0)
PYEOF
}

# ------------------------------------------------------------------ 2. the cold run
if [ "$DEPLOY" = 0 ]; then
    say "the plan: --check on the bare hosts"
    rc=0
    run plan run playbooks/site.yaml -i "$INV" --check --detailed-exitcode \
        --events-file "$WORK/plan.jsonl" || rc=$?
    # 2: changes predicted; 1: a host failed in check mode (the docker service before Docker)
    [ "$rc" = 2 ] || [ "$rc" = 1 ] || { tail -60 "$WORK/plan.log"; fail "the check run exited $rc"; }
    "${SSH[@]}" lab1 "command -v docker" >/dev/null 2>&1 && fail "check mode installed Docker"
fi
say "cold run: bare hosts -> verified cluster"
run cold run playbooks/site.yaml -i "$INV" --events-file "$WORK/cold.jsonl" \
    || { tail -60 "$WORK/cold.log"; fail "the cold run failed"; }
COLD=$LAST_SECS
recap_check "$WORK/cold.log" "failed=0"
recap_check "$WORK/cold.log" "unreachable=0"
if [ "$DEPLOY" = 0 ]; then
    plan_compare "$WORK/plan.jsonl" "$WORK/cold.jsonl" || fail "the check run's plan and the cold run differ"
fi

if [ "$DEPLOY" = 1 ]; then
    tail -6 "$WORK/cold.log" >&2
    cat >&2 <<EOF

PostgreSQL HA is up on lab1..lab3 (192.168.77.11-13), in $COLD s:
  primary (read-write):  psql -h 192.168.77.11 -p 5432 -U postgres   (any node's address works)
  replicas (read-only):  psql -h 192.168.77.12 -p 5433 -U postgres
  HAProxy stats:         http://192.168.77.13:7000/
  password:              $LAB/.state/pg_superuser_password
  a host:                ssh -F $LAB/.state/ssh_config lab1   (then: docker service ls)
  run it again:          $0 --deploy     (idempotent: changed=0)
  remove it all:         $LAB/down.sh
EOF
    exit 0
fi

# ------------------------------------------------------------------ 3. the security group
say "security group in the emulator"
ec2 "
g = ec2.describe_security_groups(Filters=[{'Name': 'group-name', 'Values': ['prov-pg-swarm']}, {'Name': 'vpc-id', 'Values': ['$PROV_VPC_ID']}])['SecurityGroups']
assert len(g) == 1, g
got = sorted((p['IpProtocol'], p['FromPort'], p['ToPort'], r['CidrIp']) for p in g[0]['IpPermissions'] for r in p['IpRanges'])
net = '192.168.77.0/24'
want = sorted([('tcp', 22, 22, net), ('tcp', 2376, 2376, net), ('tcp', 2377, 2377, net), ('tcp', 7946, 7946, net),
               ('udp', 7946, 7946, net), ('udp', 4789, 4789, net), ('tcp', 5432, 5432, net), ('tcp', 8008, 8008, net)])
assert got == want, 'rules differ:\n got  %s\n want %s' % (got, want)
print('security group %s: %d rules, exactly the table' % (g[0]['GroupId'], len(got)))
" || fail "the security group does not have exactly the wanted rules"

# ------------------------------------------------------------------ 4. idempotent
say "second run: nothing to change"
run idem run playbooks/site.yaml -i "$INV" || { tail -60 "$WORK/idem.log"; fail "the second run failed"; }
IDEM=$LAST_SECS
recap_check "$WORK/idem.log" "changed=0"

# ------------------------------------------------------------------ 5. one change: check, diff, apply
say "one HAProxy setting changed: --check --diff, then for real"
rc=0
run check run playbooks/site.yaml -i "$INV" --check --diff -e haproxy_client_timeout=45m \
    --detailed-exitcode --events-file "$WORK/check.jsonl" || rc=$?
[ "$rc" = 2 ] || { tail -60 "$WORK/check.log"; fail "the check run exited $rc, not 2 (changes)"; }
# Exactly one line of haproxy.cfg changes, and nothing else in the file.
minus=$(grep -cE '^-[^-]' "$WORK/check.log" || true)
plus=$(grep -cE '^\+[^+]' "$WORK/check.log" || true)
grep -qE '^-\s*timeout client\s+30m$' "$WORK/check.log" || { cat "$WORK/check.log"; fail "the diff does not remove 'timeout client 30m'"; }
grep -qE '^\+\s*timeout client\s+45m$' "$WORK/check.log" || { cat "$WORK/check.log"; fail "the diff does not add 'timeout client 45m'"; }
printf '[e2e] check diff: %s line(s) removed, %s added\n' "$minus" "$plus" >&2
# haproxy.cfg (1 line) and the stack file (the config's content-hash name, 1 line)
[ "$minus" -le 2 ] && [ "$plus" -le 2 ] || { cat "$WORK/check.log"; fail "the diff has more than the HAProxy change"; }
"${SSH[@]}" lab1 "grep -q 'timeout client 30m' /opt/prov-pg/stack/haproxy.cfg" || fail "check mode changed haproxy.cfg"
run apply run playbooks/site.yaml -i "$INV" -e haproxy_client_timeout=45m \
    --events-file "$WORK/apply.jsonl" || { tail -60 "$WORK/apply.log"; fail "applying the change failed"; }
recap_check "$WORK/apply.log" "failed=0"
# Exact, but for the stack task: docker_stack reads the stack file on the host, which the
# "Stack file" task before it rewrites (a new config name); in check mode that file is left as
# it is, so the stack looks unchanged.
plan_compare "$WORK/check.jsonl" "$WORK/apply.jsonl" exact "The stack, converged" \
    || fail "the check run did not predict the change exactly"
for h in lab1 lab2 lab3; do
    c=$("${SSH[@]}" "$h" "docker ps -q -f label=com.docker.swarm.service.name=pg_haproxy | head -1")
    [ -n "$c" ] || fail "no HAProxy container on $h after the change"
    "${SSH[@]}" "$h" "docker exec $c grep -q 'timeout client 45m' /usr/local/etc/haproxy/haproxy.cfg" \
        || fail "HAProxy on $h does not run the new config"
done
say "the new HAProxy config runs on every node"
run idem2 run playbooks/site.yaml -i "$INV" -e haproxy_client_timeout=45m \
    || { tail -60 "$WORK/idem2.log"; fail "the run after the change failed"; }
recap_check "$WORK/idem2.log" "changed=0"

# ------------------------------------------------------------------ 6. failover
PSQL=(docker run --rm --network host -e PGPASSWORD prov/pg-ha:1 psql -U postgres -tAX -h 127.0.0.1)
PGPW="$(cat "$LAB/.state/pg_superuser_password")"
leader=$("${SSH[@]}" lab1 "docker exec \$(docker ps -q -f label=com.docker.swarm.service.name=pg_postgres1 | head -1) patronictl -c /etc/patroni.yml list -f json" \
    | python3 -c 'import json,sys; print([m["Member"] for m in json.load(sys.stdin) if m["Role"] == "Leader"][0])')
n="${leader#postgres}"
victim="lab$n"
say "the primary is $leader on $victim: stopping $victim"
survivors=()
for h in lab1 lab2 lab3; do [ "$h" = "$victim" ] || survivors+=("$h"); done
t0=$(now_ms)
"$LAB/stop-host.sh" "$n" >/dev/null
FAILOVER=""
while :; do
    el=$(($(now_ms) - t0))
    [ "$el" -le 60000 ] || break
    ok=0
    for h in "${survivors[@]}"; do
        # The password goes through stdin, never into an argument list.
        out=$(printf '%s\n' "$PGPW" | "${SSH[@]}" -o ConnectTimeout=5 "$h" \
            "read -r PGPASSWORD; export PGPASSWORD; timeout 10 ${PSQL[*]} -p 5432 -c \"select pg_is_in_recovery(); insert into prov_check values (now()) returning 'written';\"" 2>/dev/null || true)
        if [ "$(printf '%s\n' "$out" | head -1)" = f ] && printf '%s' "$out" | grep -q written; then
            ok=$((ok + 1))
        fi
    done
    if [ "$ok" = "${#survivors[@]}" ]; then FAILOVER=$(secs "$el"); break; fi
    sleep 1
done
[ -n "$FAILOVER" ] || fail "no new primary reachable through every surviving HAProxy within 60 s"
printf '[e2e] failover: a write succeeds through HAProxy on %s %s s after %s stopped\n' \
    "${survivors[*]}" "$FAILOVER" "$victim" >&2

summary="cold run $COLD s; idempotent run $IDEM s (changed=0); failover $FAILOVER s"
say "PASSED: $summary"
if [ -n "${PROV_E2E_TIMINGS:-}" ]; then echo "$(date -u +%FT%TZ) $summary" >>"$PROV_E2E_TIMINGS"; fi
