#!/usr/bin/env bash
# Reset one lab host to a fresh system: stop it, throw its disk changes away (the overlay's
# upper layer and /var/lib/docker), and boot it again. Its SSH host key and machine-id are
# kept, so known_hosts stays valid. For destructive tests (ansible-core's integration targets
# add users, install packages, stop services): each starts on a clean host in a few seconds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N="${1:-}"
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 100 ] || die "usage: $0 N"
need_root
take_lock
check_owner
d="$(host_dir "$N")"
[ -d "$d" ] || die "lab$N does not exist (run up.sh)"
T0=$SECONDS
kill_host "$N"
keep="$(mktemp -d)"
trap 'rm -rf "$keep"' EXIT
for f in etc/ssh/ssh_host_ed25519_key etc/ssh/ssh_host_ed25519_key.pub etc/machine-id; do
    [ -f "$d/upper/$f" ] && cp -a "$d/upper/$f" "$keep/${f//\//_}"
done
umount_tree "$d/root"
safe_rm "$d/upper"
safe_rm "$d/work"
safe_rm "$d/docker"
mkdir -p "$d/upper/etc/ssh" "$d/work" "$d/docker"
for f in etc/ssh/ssh_host_ed25519_key etc/ssh/ssh_host_ed25519_key.pub etc/machine-id; do
    [ -f "$keep/${f//\//_}" ] && cp -a "$keep/${f//\//_}" "$d/upper/$f"
done
ensure_network
ensure_netns "$N"
ip link set "vlab$N" up 2>/dev/null || true
ensure_overlay "$N"
configure_host "$N"
mapfile -t ALL < <(existing_hosts)
write_etc_hosts "${ALL[@]}"
boot_host "$N"
wait_host "$N"
log "lab$N reset in $((SECONDS - T0)) s"
