# shellcheck shell=bash
# Common code for the prov test lab scripts (sourced, not run).
# Everything here only touches the lab's own names and addresses:
#   bridge br-lab, netns labN, veth vlabN, 192.168.77.0/24, 127.0.1.x,
#   cgroups /sys/fs/cgroup/unified/lab-labN, files under tests/lab/.state
#   and the rootfs cache.

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$LAB_DIR/.state"
CACHE="${PROV_LAB_CACHE:-$LAB_DIR/.cache}"
SUITE="${PROV_LAB_SUITE:-bookworm}"
MIRROR="${PROV_LAB_MIRROR:-http://deb.debian.org/debian}"
ROOTFS="$CACHE/rootfs-$SUITE"
BRIDGE=br-lab
SUBNET=192.168.77.0/24
GATEWAY=192.168.77.1
CGROOT=/sys/fs/cgroup/unified
NAT_COMMENT=prov-lab
OWNER_FILE=/run/prov-lab.owner
PACKAGES=(debootstrap systemd-container iproute2 iptables openssh-client openssh-server)
# file, acl, procps and the archivers: tools a Debian server (and ansible-core's test
# containers, which its integration targets assume) has: stat's mime types, getfacl, unarchive,
# virtualenvs of runme.sh targets.
INCLUDE=systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,ca-certificates,curl,gnupg,python3,python3-venv,file,acl,procps,unzip,zip,bzip2,xz-utils,locales,git

set -E
# Remember the last failing command; report it only if the script fails.
LAB_LAST_ERR=""
LAB_DIED=0
trap 'LAB_LAST_ERR="exit $? at ${BASH_SOURCE[0]:-?}:$LINENO: $BASH_COMMAND"' ERR
trap 'LAB_RC=$?; if [ $LAB_RC -ne 0 ] && [ $LAB_DIED -eq 0 ]; then printf "[lab] FAILED (%s)\n" "${LAB_LAST_ERR:-exit $LAB_RC}" >&2; fi' EXIT

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; LAB_DIED=1; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# Serialise all lab scripts of this worktree (flock on the lab directory).
take_lock() {
    exec 9<"$LAB_DIR"
    if ! flock -n 9; then
        log "waiting for another lab script to finish (lock on $LAB_DIR)"
        flock -w 300 9 || die "another lab script is still running (lock on $LAB_DIR)"
    fi
}

# Lets other lab scripts go on (while this one only waits for its own hosts to boot).
release_lock() {
    exec 9<&-
}

ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -c 'install ok installed' >/dev/null || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

host_ip() { echo "192.168.77.$((10 + $1))"; }
host_dir() { echo "$STATE/hosts/lab$1"; }
host_cg() { echo "$CGROOT/lab-lab$1"; }

# The lab uses global names (br-lab, lab1..); only one worktree may own it.
claim_owner() {
    if [ -f "$OWNER_FILE" ]; then
        local o; o="$(cat "$OWNER_FILE")"
        if [ "$o" != "$STATE" ] && [ -d "$o" ]; then
            die "the lab is owned by $o (run its down.sh first)"
        fi
    fi
    echo "$STATE" >"$OWNER_FILE"
}

check_owner() {
    if [ -f "$OWNER_FILE" ]; then
        local o; o="$(cat "$OWNER_FILE")"
        if [ "$o" != "$STATE" ] && [ -d "$o" ]; then
            die "the lab is owned by $o, not by this worktree (use its scripts)"
        fi
    fi
}

# ---------------------------------------------------------------- mounts

# Mount points at or below $1, deepest first (from /proc/self/mountinfo).
mounts_under() {
    local base="$1"
    awk -v b="$base" '{ m=$5; gsub(/\\040/," ",m); if (m==b || index(m, b"/")==1) print m }' \
        /proc/self/mountinfo | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-
}

umount_tree() {
    local base="$1" m
    for _ in 1 2 3; do
        local any=0
        while read -r m; do
            [ -n "$m" ] || continue
            any=1
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done < <(mounts_under "$base")
        [ $any -eq 0 ] && return 0
    done
    [ -z "$(mounts_under "$base")" ] || die "could not unmount everything under $base"
}

# rm -rf that first unmounts and never crosses into another filesystem.
safe_rm() {
    local d="$1"
    [ -e "$d" ] || return 0
    case "$d" in "$STATE"|"$STATE"/*|"$CACHE"/*) ;; *) die "refusing to remove $d";; esac
    umount_tree "$d"
    rm -rf --one-file-system "$d"
}

# ---------------------------------------------------------------- rootfs cache

ensure_rootfs() {
    mkdir -p "$CACHE"
    if [ -f "$ROOTFS/.prov-lab-complete" ]; then
        # A cache built with another package list is rebuilt, unless hosts still use it.
        [ "$(cat "$ROOTFS/.prov-lab-include" 2>/dev/null)" = "$INCLUDE" ] && return 0
        if [ -n "$(mounts_under "$STATE/hosts")" ]; then
            log "WARNING: the rootfs cache lacks packages of this lab ($INCLUDE); down.sh, then up.sh rebuilds it"
            return 0
        fi
        log "the rootfs cache was built with other packages: rebuilding it"
        safe_rm "$ROOTFS"
    fi
    # The cache may be shared by worktrees (PROV_LAB_CACHE): build under its lock.
    exec 8<"$CACHE"
    if ! flock -n 8; then
        log "waiting for another rootfs build in $CACHE"
        flock -w 900 8 || die "rootfs build in $CACHE still locked after 15 min"
    fi
    if [ -f "$ROOTFS/.prov-lab-complete" ]; then
        exec 8<&-
        return 0
    fi
    # Leftovers of a killed build: unmount and remove.
    local t
    for t in "$CACHE"/rootfs-"$SUITE".tmp.*; do
        [ -e "$t" ] || continue
        log "removing unfinished rootfs build $t"
        safe_rm "$t"
    done
    [ -e "$ROOTFS" ] && { log "removing incomplete $ROOTFS"; safe_rm "$ROOTFS"; }
    local tmp="$CACHE/rootfs-$SUITE.tmp.$$" start=$SECONDS
    log "debootstrap $SUITE into $tmp (once; cached in $CACHE)"
    if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$MIRROR" \
            >"$CACHE/debootstrap.log" 2>&1; then
        tail -20 "$CACHE/debootstrap.log" >&2
        safe_rm "$tmp"
        die "debootstrap failed (log: $CACHE/debootstrap.log)"
    fi
    # en_US.UTF-8 besides C.UTF-8, as in ansible-test's containers (scripts set LC_ALL to it).
    sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$tmp/etc/locale.gen"
    chroot "$tmp" locale-gen >>"$CACHE/debootstrap.log" 2>&1 || die "locale-gen failed in $tmp"
    # Per-host things must not come from the shared image.
    rm -f "$tmp"/etc/ssh/ssh_host_*
    : >"$tmp/etc/machine-id"
    rm -f "$tmp/var/lib/dbus/machine-id"
    apt-get -q clean -o RootDir="$tmp" 2>/dev/null || rm -f "$tmp"/var/cache/apt/archives/*.deb
    umount_tree "$tmp"
    echo "$INCLUDE" >"$tmp/.prov-lab-include"
    date -u +%FT%TZ >"$tmp/.prov-lab-complete"
    mv -T "$tmp" "$ROOTFS"
    exec 8<&-
    log "rootfs ready in $((SECONDS - start)) s: $ROOTFS"
}

# ---------------------------------------------------------------- network

ensure_network() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        log "creating bridge $BRIDGE $GATEWAY/24"
        ip link add "$BRIDGE" type bridge
    fi
    ip addr show dev "$BRIDGE" | grep -c "inet $GATEWAY/24" >/dev/null || ip addr add "$GATEWAY/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    if [ ! -f "$STATE/ip_forward.orig" ]; then
        cat /proc/sys/net/ipv4/ip_forward >"$STATE/ip_forward.orig"
    fi
    sysctl -qw net.ipv4.ip_forward=1
    nat_rule -C 2>/dev/null || nat_rule -A
    fwd_rule -i -C 2>/dev/null || fwd_rule -i -I
    fwd_rule -o -C 2>/dev/null || fwd_rule -o -I
}

# The exact rules this lab adds (and removes); tagged with a comment.
nat_rule() {
    iptables -w -t nat "$1" POSTROUTING -s "$SUBNET" ! -o "$BRIDGE" \
        -m comment --comment "$NAT_COMMENT" -j MASQUERADE
}
fwd_rule() {
    local dir="$1" op="$2"
    if [ "$op" = -I ]; then
        iptables -w -I FORWARD 1 "$dir" "$BRIDGE" -m comment --comment "$NAT_COMMENT" -j ACCEPT
    else
        iptables -w "$op" FORWARD "$dir" "$BRIDGE" -m comment --comment "$NAT_COMMENT" -j ACCEPT
    fi
}

ensure_netns() {
    local n="$1" ns="lab$1" veth="vlab$1" ip; ip="$(host_ip "$1")"
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
        ip link del "$veth" 2>/dev/null || true
        ip link add "$veth" type veth peer name eth0 netns "$ns"
    fi
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr show dev eth0 | grep -c "inet $ip/24" >/dev/null || ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route replace default via "$GATEWAY"
}

# ---------------------------------------------------------------- hosts

host_pid() {
    local pf; pf="$(host_dir "$1")/nspawn.pid"
    [ -f "$pf" ] || return 1
    local pid; pid="$(cat "$pf")"
    # alive, really nspawn, and not a zombie waiting to be reaped
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd-nspawn ] || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
    echo "$pid"
}

host_running() { host_pid "$1" >/dev/null; }

ensure_overlay() {
    local n="$1" d; d="$(host_dir "$1")"
    mkdir -p "$d/upper" "$d/work" "$d/root" "$d/docker"
    if ! mountpoint -q "$d/root"; then
        mount -t overlay "overlay-lab$n" \
            -o "lowerdir=$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$d/root"
    fi
}

# Writes the per-host files into the overlay (idempotent; called before boot).
configure_host() {
    local n="$1" d r ip; d="$(host_dir "$1")"; r="$d/root"; ip="$(host_ip "$1")"
    echo "lab$n" >"$r/etc/hostname"
    cp --remove-destination /etc/resolv.conf "$r/etc/resolv.conf"
    if [ ! -s "$r/etc/machine-id" ]; then
        tr -d '-' </proc/sys/kernel/random/uuid >"$r/etc/machine-id"
    fi
    # Host key generated here, so the controller knows it before boot.
    if [ ! -f "$r/etc/ssh/ssh_host_ed25519_key" ]; then
        rm -f "$r"/etc/ssh/ssh_host_*
        ssh-keygen -q -t ed25519 -N '' -C "root@lab$n" -f "$r/etc/ssh/ssh_host_ed25519_key"
    fi
    mkdir -p "$r/etc/ssh/sshd_config.d"
    cat >"$r/etc/ssh/sshd_config.d/prov-lab.conf" <<'EOF'
# prov test lab
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
MaxStartups 200:30:400
MaxSessions 100
UseDNS no
EOF
    ln -sf /lib/systemd/system/ssh.service "$r/etc/systemd/system/multi-user.target.wants/ssh.service"
    ln -sf /lib/systemd/system/ssh.service "$r/etc/systemd/system/sshd.service"
    # Users (chroot into the not-yet-booted overlay).
    local pub; pub="$(cat "$STATE/id_ed25519.pub")"
    local u
    for u in deploy app; do
        chroot "$r" id "$u" >/dev/null 2>&1 || chroot "$r" useradd -m -s /bin/bash "$u"
    done
    printf 'deploy:%s\n' "$(cat "$STATE/deploy_password")" | chroot "$r" chpasswd
    printf 'app:%s\n' "$(cat "$STATE/deploy_password")" | chroot "$r" chpasswd
    printf 'deploy ALL=(ALL:ALL) ALL\n' >"$r/etc/sudoers.d/deploy"
    chmod 0440 "$r/etc/sudoers.d/deploy"
    for u in root deploy app; do
        local home; [ "$u" = root ] && home=/root || home="/home/$u"
        mkdir -p "$r$home/.ssh"
        echo "$pub" >"$r$home/.ssh/authorized_keys"
        chmod 700 "$r$home/.ssh"; chmod 600 "$r$home/.ssh/authorized_keys"
        chroot "$r" chown -R "$u:" "$home/.ssh"
    done
    # Short boot: units that make no sense in a container.
    local unit
    for unit in systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer; do
        ln -sf /dev/null "$r/etc/systemd/system/$unit"
    done
}

write_etc_hosts() {
    local n r; local -a all=("$@")
    for n in "${all[@]}"; do
        r="$(host_dir "$n")/root"
        mountpoint -q "$r" || continue
        {
            printf '127.0.0.1\tlocalhost\n127.0.1.1\tlab%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$n"
            local m; for m in "${all[@]}"; do printf '%s\tlab%s\n' "$(host_ip "$m")" "$m"; done
        } >"$r/etc/hosts.new"
        # in place (not rename) so a bind-mounted /etc/hosts would see it too
        cat "$r/etc/hosts.new" >"$r/etc/hosts"; rm -f "$r/etc/hosts.new"
    done
}

# Kill everything of a host (nspawn + container) and remove its cgroup.
kill_host() {
    local n="$1" d cg pid; d="$(host_dir "$1")"; cg="$(host_cg "$1")"
    if pid="$(host_pid "$n")"; then
        # nspawn forwards SIGTERM to the container's init as SIGRTMIN+3 (poweroff)
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do host_running "$n" || break; sleep 0.2; done
        if host_running "$n"; then
            log "lab$n: no clean shutdown in 20 s, killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$d/nspawn.pid" 2>/dev/null || true
    if [ -d "$cg" ]; then
        if grep -q 'populated 1' "$cg/cgroup.events" 2>/dev/null; then
            echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
            for _ in $(seq 1 50); do grep -q 'populated 0' "$cg/cgroup.events" && break; sleep 0.1; done
        fi
    fi
    # nspawn also mirrors lab-labN into the v1 name=systemd hierarchy: clean
    # every hierarchy, depth-first; kill stragglers listed in them (they can
    # only be this host's processes).
    local h left
    for h in /sys/fs/cgroup/*/lab-lab"$n"; do
        [ -d "$h" ] || continue
        # On a loaded machine killed processes can take seconds to be gone: up to 15 s.
        for _ in $(seq 1 75); do
            find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || true
            [ -d "$h" ] || break
            echo 1 >"$h/cgroup.kill" 2>/dev/null || true
            left="$(find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)"
            # shellcheck disable=SC2086
            [ -n "$left" ] && kill -KILL $left 2>/dev/null || true
            sleep 0.2
        done
        [ ! -d "$h" ] || log "WARNING: could not remove cgroup $h"
    done
}

boot_host() {
    local n="$1" d cg; d="$(host_dir "$1")"; cg="$(host_cg "$1")"
    kill_host "$n"   # clean any leftovers of a dead instance (cgroup!)
    # Still there only if kill_host could not remove it (warned): its processes are killed,
    # so the new instance can use it.
    mkdir -p "$cg"
    # Own cgroup per nspawn (see LAB.md), own session, output to a log file.
    SYSTEMD_SECCOMP=0 SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 setsid sh -c '
        echo $$ > "$1/cgroup.procs"; echo $$ > "$2/nspawn.pid"; shift 2
        exec systemd-nspawn "$@"' sh "$cg" "$d" \
        -q -D "$d/root" --boot --register=no --keep-unit \
        --network-namespace-path="/run/netns/lab$n" --capability=all \
        --machine="lab$n" --hostname="lab$n" --resolv-conf=off --timezone=off \
        --link-journal=no --console=read-only \
        --bind="$d/docker:/var/lib/docker" \
        </dev/null >"$d/console.log" 2>&1 9<&- &
    for _ in $(seq 1 50); do host_running "$n" && return 0; sleep 0.1; done
    tail -20 "$d/console.log" >&2
    die "lab$n: systemd-nspawn did not start (log: $d/console.log)"
}

# Wait for sshd and for systemd to finish booting; prints seconds taken.
wait_host() {
    local n="$1" start=$SECONDS timeout="${2:-90}"
    until ssh -F "$STATE/ssh_config" -o ConnectTimeout=2 -o BatchMode=yes "lab$n" true 2>/dev/null; do
        host_running "$n" || { tail -30 "$(host_dir "$n")/console.log" >&2; die "lab$n: nspawn died while booting"; }
        [ $((SECONDS - start)) -lt "$timeout" ] || die "lab$n: sshd did not answer within ${timeout}s"
        sleep 0.3
    done
    local st
    st="$(ssh -F "$STATE/ssh_config" "lab$n" "timeout $timeout systemctl is-system-running --wait" 2>/dev/null || true)"
    case "$st" in
        running|degraded) ;;
        *) die "lab$n: systemd state '$st' after ${timeout}s";;
    esac
    log "lab$n up ($(host_ip "$n")): ssh ok, systemd $st, $((SECONDS - start)) s"
}

existing_hosts() {
    local d
    for d in "$STATE"/hosts/lab*; do
        [ -d "$d" ] || continue
        echo "${d##*/lab}"
    done | sort -n
}

# known_hosts, ssh_config and inventory.yaml for all hosts in $STATE/hosts.
write_client_files() {
    local -a hosts; mapfile -t hosts < <(existing_hosts)
    local n ip kh="$STATE/known_hosts" cfg="$STATE/ssh_config" inv="$STATE/inventory.yaml"
    : >"$kh.new"; : >"$cfg.new"
    for n in "${hosts[@]}"; do
        ip="$(host_ip "$n")"
        local key; key="$(cut -d' ' -f1,2 <"$(host_dir "$n")/root/etc/ssh/ssh_host_ed25519_key.pub")"
        echo "$ip,lab$n $key" >>"$kh.new"
        cat >>"$cfg.new" <<EOF
Host lab$n
    HostName $ip
    User root
    IdentityFile $STATE/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $kh
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes

EOF
    done
    mv "$kh.new" "$kh"; mv "$cfg.new" "$cfg"
    {
        echo "# prov test lab (generated by tests/lab/up.sh)"
        echo "all:"
        echo "  children:"
        echo "    lab:"
        echo "      hosts:"
        for n in "${hosts[@]}"; do
            echo "        lab$n:"
            echo "          ansible_host: $(host_ip "$n")"
        done
        echo "      vars:"
        echo "        ansible_user: root"
        echo "        ansible_ssh_private_key_file: $STATE/id_ed25519"
        echo "        ansible_ssh_common_args: \"-o UserKnownHostsFile=$kh -o StrictHostKeyChecking=yes\""
    } >"$inv.new"
    mv "$inv.new" "$inv"
    # same hosts, logging in as deploy (sudo needs the password): for become tests
    local invd="$STATE/inventory-deploy.yaml"
    (umask 077; sed -e 's/^        ansible_user: root$/        ansible_user: deploy/' \
        -e "s/^      vars:\$/      vars:\n        ansible_become_password: \"$(cat "$STATE/deploy_password")\"/" \
        -e 's/(generated by/(deploy user; generated by/' "$inv" >"$invd.new")
    mv "$invd.new" "$invd"
}

ensure_keys() {
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    [ -f "$STATE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C prov-lab -f "$STATE/id_ed25519"
    if [ ! -s "$STATE/deploy_password" ]; then
        (umask 077; head -c 15 /dev/urandom | base64 | tr '+/' 'xy' >"$STATE/deploy_password")
    fi
    chmod 600 "$STATE/deploy_password"
}
