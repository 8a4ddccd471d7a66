# prov fact gathering: POSIX sh only (dash, busybox ash, bash), no Python.
# Prints sections: a line "@@name" followed by that section's raw lines. The controller parses.
LC_ALL=C
export LC_ALL
prov_path=$PATH
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH
have() { command -v "$1" >/dev/null 2>&1; }
sec() { echo "@@$1"; }
# A small file read by the shell itself (no program started: each one costs about a millisecond
# of CPU on a busy host); a last line without a newline gets one.
rd() { while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$1"; }
# The first line of a small file, into variable $1 (empty when unreadable).
rl() { eval "$1="; IFS= read -r "$1" < "$2" || :; } 2>/dev/null
dump() { [ -r "$1" ] && { sec "file $1"; rd "$1" 2>/dev/null; echo; }; }
# PROV_FACT_SKIP: sections of collectors gather_subset left out (network hardware python local).
want() { case " ${PROV_FACT_SKIP:-} " in *" $1 "*) return 1;; esac; return 0; }
sec uname
# what uname -r, -v, -n and -s print, from /proc when Linux has it there
if [ -r /proc/sys/kernel/osrelease ]; then
  rl kr /proc/sys/kernel/osrelease; rl kv /proc/sys/kernel/version
  rl kn /proc/sys/kernel/hostname; rl ks /proc/sys/kernel/ostype
else
  kr=$(uname -r 2>/dev/null); kv=$(uname -v 2>/dev/null); kn=$(uname -n 2>/dev/null); ks=$(uname -s 2>/dev/null)
fi
echo "kernel=$kr"
echo "kernel_version=$kv"
echo "machine=$(uname -m 2>/dev/null)"
echo "nodename=$kn"
echo "system=$ks"
sec hostname
h=$(hostname 2>/dev/null) || h=
[ -n "$h" ] || h=$(cat /proc/sys/kernel/hostname 2>/dev/null)
echo "hostname=$h"
if have timeout; then f=$(timeout 3 hostname -f 2>/dev/null); else f=$(hostname -f 2>/dev/null); fi
echo "fqdn=$f"
for p in /etc/os-release /usr/lib/os-release; do
  if [ -r "$p" ]; then sec os-release; rd "$p"; echo; break; fi
done
for p in /etc/lsb-release /etc/debian_version /etc/alpine-release /etc/redhat-release \
  /etc/system-release /etc/arch-release /etc/SuSE-release /etc/machine-id \
  /etc/resolv.conf /etc/selinux/config /sys/fs/selinux/enforce /run/systemd/container \
  /sys/class/dmi/id/product_name /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/product_version \
  /proc/uptime /proc/loadavg /proc/sys/crypto/fips_enabled; do
  dump "$p"
done
if have lsb_release; then sec lsb_release; lsb_release -a 2>/dev/null; fi
sec flags
for p in /run/systemd/system /.dockerenv /run/.containerenv /proc/xen /sbin/openrc /etc/init.d /etc/init \
  /sys/fs/selinux /proc/vz /proc/bc /dev/kvm; do
  [ -e "$p" ] && echo "exists=$p"
done
rl p1 /proc/1/comm
echo "pid1=$p1"
for b in dnf5 dnf yum microdnf apt-get apk zypper pacman emerge rpm-ostree getenforce initctl systemctl rc-service; do
  have "$b" && echo "bin=$b"
done
if [ -d /run/systemd/system ] && have systemctl; then sec systemd; systemctl --version 2>/dev/null; fi
sec cgroup1
[ -r /proc/1/cgroup ] && rd /proc/1/cgroup 2>/dev/null
sec user
echo "user_id=$(id -un 2>/dev/null)"
echo "user_uid=$(id -u 2>/dev/null)"
echo "user_gid=$(id -g 2>/dev/null)"
u=$(id -un 2>/dev/null)
pw=
if have getent; then pw=$(getent passwd "$u" 2>/dev/null | head -n 1); fi
[ -n "$pw" ] || pw=$(grep "^$u:" /etc/passwd 2>/dev/null | head -n 1)
echo "passwd=$pw"
sec date
date '+local=%Y-%m-%d %H:%M:%S %Z %z %A %w %W %j %s' 2>/dev/null
date -u '+utc=%Y-%m-%d %H:%M:%S' 2>/dev/null
if want hardware; then
sec meminfo
grep -E '^(MemTotal|MemFree|MemAvailable|Buffers|Cached|SwapTotal|SwapFree):' /proc/meminfo 2>/dev/null
sec cpuinfo
grep -E '^(processor|vendor_id|model name|physical id|core id|cpu cores|siblings|Hardware|cpu model)[[:space:]]*:' /proc/cpuinfo 2>/dev/null
have nproc && echo "nproc: $(nproc 2>/dev/null)"
# mounts, as Ansible's hardware facts read them: the mount table, bind mounts (findmnt), UUIDs
# (lsblk) and a statvfs (stat -f) of each real file system (a device path or host:/path)
mt=/etc/mtab; [ -e "$mt" ] || mt=/proc/mounts
sec mounts
cat "$mt" 2>/dev/null
if have findmnt; then sec findmnt; findmnt --list --noheadings --notruncate 2>/dev/null; fi
if have lsblk; then sec lsblk; lsblk --list --noheadings --paths --output NAME,UUID --exclude 2 2>/dev/null; fi
sec mount-stat
to=; have timeout && to="timeout 5"
set -f
n=0
while IFS= read -r l; do
  n=$((n + 1))
  set -- $l
  [ $# -ge 6 ] || continue
  case "$1" in /*|\\*|*:/*) ;; *) continue;; esac
  [ "$3" = none ] && continue
  echo "$n $($to stat -f -c '%S %s %b %a %c %d' -- "$(printf '%b' "$2")" 2>/dev/null)"
done < "$mt"
set +f
fi
if want network; then
sec links
for d in /sys/class/net/*; do
  [ -e "$d" ] || continue
  n=${d##*/}
  t=
  [ -d "$d/bridge" ] && t=bridge
  [ -d "$d/bonding" ] && t=bonding
  rl mtu "$d/mtu"; rl mac "$d/address"; rl oper "$d/operstate"; rl fl "$d/flags"; rl ty "$d/type"
  echo "$n mtu=$mtu mac=$mac oper=$oper flags=$fl type=$ty kind=$t"
done
if have ip; then
  sec ip-addr
  ip addr 2>/dev/null
  sec ip-route-get
  ip -4 route get 8.8.8.8 2>/dev/null
  sec ip-route-default
  ip -4 route show default 2>/dev/null
  sec ip6-route-get
  ip -6 route get 2404:6800:4003:c00::64 2>/dev/null
else
  sec fib-trie
  cat /proc/net/fib_trie 2>/dev/null
fi
sec proc-net-route
cat /proc/net/route 2>/dev/null
sec hostname-i
hostname -I 2>/dev/null || hostname -i 2>/dev/null
fi
if want python; then
sec python
# The host's Python as Ansible discovers it (ansible_python_interpreter when given), described
# by itself; nothing when the host has none.
py=${PROV_PYTHON:-}
if [ -z "$py" ]; then
  for p in /usr/bin/python3 python3.14 python3.13 python3.12 python3.11 python3.10 python3.9 \
    python3.8 /usr/libexec/platform-python python3; do
    if have "$p"; then py=$(command -v "$p"); break; fi
  done
fi
if [ -n "$py" ]; then
  $py -c 'import sys
try:
    from ssl import SSLContext
    s = 1
except Exception:
    s = 0
v = sys.version_info
print("executable=%s" % (sys.executable or ""))
print("version_info=%d %d %d %s %d" % (v[0], v[1], v[2], v[3], v[4]))
print("type=%s" % getattr(getattr(sys, "implementation", None), "name", ""))
print("has_sslcontext=%d" % s)' 2>/dev/null
fi
fi
# Local facts (Ansible's fact_path, /etc/ansible/facts.d unless PROV_FACT_PATH says otherwise):
# each *.fact file, sorted; an executable one (owner x bit) is run, any other read; its output
# and errors in hex (they are arbitrary text). The controller parses them (JSON, else INI).
fp=${PROV_FACT_PATH-/etc/ansible/facts.d}
if [ -n "$fp" ] && [ -e "$fp" ] && want local; then
  sec local
  n=0
  for f in "$fp"/*.fact; do
    [ -e "$f" ] || [ -h "$f" ] || continue
    n=$((n + 1))
    sec "local-fact $n"
    echo "path=$f"
    if [ ! -e "$f" ]; then echo "stat=missing"; continue; fi
    m=$(ls -ldL "$f" 2>/dev/null)
    case "$m" in
      ???[xs]*)
        d=$(mktemp -d 2>/dev/null) || { d=/tmp/prov-facts.$$; mkdir -m 700 "$d" 2>/dev/null || d=; }
        if [ -n "$d" ]; then
          "$f" </dev/null >"$d/o" 2>"$d/e"
          echo "rc=$?"
          sec "local-out $n"; od -An -v -tx1 "$d/o"
          sec "local-err $n"; od -An -v -tx1 "$d/e"
          rm -rf "$d"
        fi;;
      *)
        echo "read=1"
        if [ -r "$f" ]; then sec "local-out $n"; od -An -v -tx1 "$f" 2>/dev/null; fi;;
    esac
  done
fi
sec env-hex
# the environment as the task gets it: the PATH given, not the one extended above
prov_od=$(command -v od 2>/dev/null)
PATH=$prov_path ${prov_od:-od} -An -v -tx1 /proc/self/environ 2>/dev/null || { echo "@@env"; PATH=$prov_path env; }
sec end
exit 0
