#!/usr/bin/env bash
# Start (or restart if its nspawn died) one lab host, keeping its disk.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N="${1:-}"
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 100 ] || die "usage: $0 N"
need_root
take_lock
check_owner
[ -f "$ROOTFS/.prov-lab-complete" ] || die "no rootfs cache; run up.sh first"
[ -f "$STATE/id_ed25519" ] || die "no lab state; run up.sh first"
claim_owner
T0=$SECONDS
ensure_network
ensure_netns "$N"
ensure_overlay "$N"
if host_running "$N"; then
    log "lab$N already running"
else
    configure_host "$N"
    if [ ! -f "$STATE/inventory.yaml" ] || ! grep -q "^        lab$N:" "$STATE/inventory.yaml"; then
        write_client_files
        mapfile -t ALL < <(existing_hosts)
        write_etc_hosts "${ALL[@]}"
    fi
    boot_host "$N"
    wait_host "$N"
fi
log "lab$N started in $((SECONDS - T0)) s"
