#!/usr/bin/env bash
# Remove every trace of the prov test lab (hosts, many-sshd, mounts, netns,
# veths, bridge, the lab's iptables rules, cgroups, tests/lab/.state).
# The rootfs cache is kept. Safe to run when nothing is up.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_root
take_lock
check_owner
T0=$SECONDS

# many.sh sshds
"$LAB_DIR/many.sh" --stop-nolock || true

# hosts: those with state plus any cgroup left behind
hosts=()
mapfile -t hosts < <( { existing_hosts; for c in /sys/fs/cgroup/*/lab-lab*; do if [ -d "$c" ]; then echo "${c##*/lab-lab}"; fi; done; } | sort -nu)
for n in "${hosts[@]}"; do
    [ -n "$n" ] || continue
    log "stopping lab$n"
    kill_host "$n" &
done
wait

[ -d "$STATE" ] && umount_tree "$STATE"

for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^lab[0-9]+$' || true); do
    ip netns del "$ns"
done
for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^vlab[0-9]+$' || true); do
    ip link del "$l" 2>/dev/null || true
done
ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"

if command -v iptables >/dev/null; then
    while nat_rule -C 2>/dev/null; do nat_rule -D; done
    while fwd_rule -i -C 2>/dev/null; do fwd_rule -i -D; done
    while fwd_rule -o -C 2>/dev/null; do fwd_rule -o -D; done
fi
if [ -f "$STATE/ip_forward.orig" ]; then
    sysctl -qw net.ipv4.ip_forward="$(cat "$STATE/ip_forward.orig")"
fi

if [ -d "$STATE" ]; then
    umount_tree "$STATE"
    rm -rf --one-file-system "$STATE"
fi
rm -f "$OWNER_FILE"
log "lab down in $((SECONDS - T0)) s (rootfs cache kept in $CACHE)"
