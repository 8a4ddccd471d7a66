#!/usr/bin/env bash
# Self-test of the lab scripts: up -> checks -> stop/start -> many -> down ->
# no traces left. Prints "N passed, N failed" and exits non-zero on failure.
# Leaves the lab DOWN. Set PROV_LAB_SKIP_APT=1 to skip the apt-get update check.
set -euo pipefail
LAB_DIR="$(cd "$(dirname "$0")" && pwd)"
STATE="$LAB_DIR/.state"
N="${1:-3}"
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
S() { ssh -F "$STATE/ssh_config" -o BatchMode=yes -o ConnectTimeout=5 "$@"; }

no_traces() {
    [ -z "$(ip netns list | awk '{print $1}' | grep -E '^lab[0-9]+$' || true)" ] &&
    ! ip link show br-lab >/dev/null 2>&1 &&
    [ -z "$(ip -o link | grep -E ': vlab[0-9]+' || true)" ] &&
    [ -z "$(iptables -t nat -S | grep prov-lab || true)" ] &&
    [ -z "$(iptables -S | grep prov-lab || true)" ] &&
    [ -z "$(grep -E 'lab[0-9]|tests/lab' /proc/mounts || true)" ] &&
    [ -z "$(find /sys/fs/cgroup -maxdepth 2 -name 'lab-lab*' 2>/dev/null)" ] &&
    [ ! -e "$STATE" ]
}

t=$SECONDS; check "up.sh $N" "$LAB_DIR/up.sh" "$N"; echo "     (up: $((SECONDS - t)) s)"
check "up.sh again is a no-op" "$LAB_DIR/up.sh" "$N"
for n in $(seq 1 "$N"); do
    check "lab$n: root ssh + systemd running/degraded" \
        bash -c "[[ \$(ssh -F '$STATE/ssh_config' lab$n systemctl is-system-running) =~ ^(running|degraded)\$ ]]"
done
check "lab1: hostname is lab1" bash -c "[ \"\$(ssh -F '$STATE/ssh_config' lab1 hostname)\" = lab1 ]"
PW="$(cat "$STATE/deploy_password")"
check "deploy: sudo without password refused" bash -c "! ssh -F '$STATE/ssh_config' -l deploy lab1 'sudo -k; sudo -n true'"
check "deploy: sudo -S with password gives root" \
    bash -c "[ \"\$(echo '$PW' | ssh -F '$STATE/ssh_config' -l deploy lab1 'sudo -k; sudo -S -p \"\" id -u')\" = 0 ]"
check "deploy: sudo -u app" \
    bash -c "[ \"\$(echo '$PW' | ssh -F '$STATE/ssh_config' -l deploy lab1 'sudo -k; sudo -S -p \"\" -u app id -un')\" = app ]"
if [ "$N" -ge 2 ]; then
    check "lab1 -> lab2 tcp/22 by name" S lab1 'timeout 3 bash -c "exec 3<>/dev/tcp/lab2/22"'
fi
if [ "${PROV_LAB_SKIP_APT:-0}" != 1 ]; then
    check "lab1: apt-get update through NAT" S lab1 'apt-get update -qq'
fi
check "stop-host.sh 1" "$LAB_DIR/stop-host.sh" 1
check "lab1 unreachable" bash -c "! ssh -F '$STATE/ssh_config' -o ConnectTimeout=2 lab1 true"
[ "$N" -ge 2 ] && check "lab2 still up" S lab2 true
check "start-host.sh 1" "$LAB_DIR/start-host.sh" 1
check "lab1 back" S lab1 true
t=$SECONDS; check "many.sh 20" "$LAB_DIR/many.sh" 20; echo "     (many 20: $((SECONDS - t)) s)"
check "m20 ssh" ssh -F "$STATE/many/ssh_config" -o BatchMode=yes m20 true
t=$SECONDS; check "down.sh" "$LAB_DIR/down.sh"; echo "     (down: $((SECONDS - t)) s)"
check "no traces left" no_traces
check "down.sh when down" "$LAB_DIR/down.sh"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
