#!/usr/bin/env bash
# Reset lab hosts to a fresh system: stop them, throw their disk changes away (the overlay's
# upper layer and /var/lib/docker), and boot them again. Their SSH host keys and machine-ids
# are kept, so known_hosts stays valid. For destructive tests (ansible-core's integration
# targets add users, install packages, stop services): each starts on clean hosts in a few
# seconds. Several hosts are reset at once: `reset-host.sh 1 3`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die "usage: $0 N [N ...]"
for N in "$@"; do
    [[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 100 ] || die "usage: $0 N [N ...]"
    [ -d "$(host_dir "$N")" ] || die "lab$N does not exist (run up.sh)"
done
need_root
take_lock
check_owner
T0=$SECONDS
keep="$(mktemp -d)"
trap 'rm -rf "$keep"' EXIT
KEPT=(etc/ssh/ssh_host_ed25519_key etc/ssh/ssh_host_ed25519_key.pub etc/machine-id)
for N in "$@"; do kill_host "$N" & done
wait
for N in "$@"; do
    d="$(host_dir "$N")"
    mkdir -p "$keep/$N"
    for f in "${KEPT[@]}"; do
        [ -f "$d/upper/$f" ] && cp -a "$d/upper/$f" "$keep/$N/${f//\//_}"
    done
    umount_tree "$d/root"
    safe_rm "$d/upper"
    safe_rm "$d/work"
    safe_rm "$d/docker"
    mkdir -p "$d/upper/etc/ssh" "$d/work" "$d/docker"
    for f in "${KEPT[@]}"; do
        [ -f "$keep/$N/${f//\//_}" ] && cp -a "$keep/$N/${f//\//_}" "$d/upper/$f"
    done
done
ensure_network
mapfile -t ALL < <(existing_hosts)
for N in "$@"; do
    ensure_netns "$N"
    ip link set "vlab$N" up 2>/dev/null || true
    ensure_overlay "$N"
    configure_host "$N"
done
write_etc_hosts "${ALL[@]}"
for N in "$@"; do boot_host "$N"; done
# Waiting for the boot needs no lock: other resets (of other hosts) go on meanwhile.
release_lock
for N in "$@"; do wait_host "$N"; done
log "reset host(s) $* in $((SECONDS - T0)) s"
