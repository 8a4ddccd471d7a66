#!/usr/bin/env bash
# Bring up the prov test lab: hosts lab1..labN (default 3), each a Debian
# system booted by systemd-nspawn in its own network namespace on br-lab.
# Idempotent: running hosts are left alone, dead ones are restarted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N="${1:-3}"
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 100 ] || die "usage: $0 [N]   (1..100 hosts, default 3)"

need_root
take_lock
T0=$SECONDS
ensure_packages
ensure_rootfs
T_ROOTFS=$((SECONDS - T0))
mkdir -p "$STATE/hosts"
claim_owner
ensure_keys
ensure_network

to_boot=()
for n in $(seq 1 "$N"); do
    ensure_netns "$n"
    ensure_overlay "$n"
    if host_running "$n"; then
        log "lab$n already running (pid $(host_pid "$n")), left alone"
    else
        configure_host "$n"
        to_boot+=("$n")
    fi
done
mapfile -t ALL < <(existing_hosts)
write_client_files
write_etc_hosts "${ALL[@]}"

T1=$SECONDS
for n in "${to_boot[@]}"; do
    log "booting lab$n ($(host_ip "$n"))"
    boot_host "$n"
done
# hosts boot in parallel; wait for each
for n in "${to_boot[@]}"; do wait_host "$n"; done
for n in $(seq 1 "$N"); do
    [[ " ${to_boot[*]} " == *" $n "* ]] && continue
    ssh -F "$STATE/ssh_config" -o ConnectTimeout=5 "lab$n" true || die "lab$n is running but ssh fails"
done
log "lab ready: ${#ALL[@]} host(s), booted ${#to_boot[@]} in $((SECONDS - T1)) s, total $((SECONDS - T0)) s (rootfs step ${T_ROOTFS} s)"
log "inventory:  $STATE/inventory.yaml"
log "ssh:        ssh -F $STATE/ssh_config lab1"
