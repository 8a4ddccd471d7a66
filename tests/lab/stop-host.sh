#!/usr/bin/env bash
# Stop one lab host (clean poweroff, then kill). Its disk (overlay) is kept.
# By default its network link is also taken down so the address does not
# answer at all (like a powered-off machine: connects time out / "no route").
# With --refuse the address stays up and connections are refused instead.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

refuse=0
[ "${1:-}" = --refuse ] && { refuse=1; shift; }
N="${1:-}"
[[ "$N" =~ ^[0-9]+$ ]] || die "usage: $0 [--refuse] N"
need_root
take_lock
check_owner
[ -d "$(host_dir "$N")" ] || die "lab$N does not exist (run up.sh)"
T0=$SECONDS
kill_host "$N"
if [ $refuse -eq 0 ]; then
    ip link set "vlab$N" down 2>/dev/null || true
    ip neigh flush dev "$BRIDGE" to "$(host_ip "$N")" 2>/dev/null || true
fi
log "lab$N stopped in $((SECONDS - T0)) s$([ $refuse -eq 1 ] && echo ' (address up: connections refused)' || echo ' (link down: unreachable)')"
