#!/usr/bin/env bash
# Write the lab's base image archive: the lab's debootstrap root filesystem as a
# `docker load` archive tagged debian:bookworm-slim, at tests/lab/.state/debian-bookworm-slim.tar
# (printed on stdout). No registry is reachable from the lab, so the flagship playbook loads this
# archive on each host (inventory/lab.yaml sets base_image_archive) before it builds its image.
# Built without Docker on the controller: one layer tar, an image config and a manifest.
# Rebuilt only when the root filesystem is newer than the archive.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_root
ensure_rootfs
mkdir -p "$STATE"
OUT="$STATE/debian-$SUITE-slim.tar"
if [ -f "$OUT" ] && [ "$OUT" -nt "$ROOTFS/.prov-lab-complete" ]; then
    echo "$OUT"
    exit 0
fi

T0=$SECONDS
work="$(mktemp -d "$STATE/base-image.XXXXXX")"
trap 'rm -rf --one-file-system "$work"' EXIT
# The layer: the whole root filesystem, without the lab's marker, apt caches, logs or host keys
# (each container would otherwise share one set of SSH host keys).
mkdir -p "$work/layer"
tar -C "$ROOTFS" --numeric-owner --xattrs \
    --exclude=./.prov-lab-complete --exclude='./var/cache/apt/archives/*.deb' \
    --exclude='./var/lib/apt/lists/*' --exclude='./var/log/*' --exclude='./etc/ssh/ssh_host_*' \
    -cf "$work/layer/layer.tar" .
diff_id="sha256:$(sha256sum "$work/layer/layer.tar" | cut -d' ' -f1)"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"$created",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["bash"]},
 "rootfs":{"type":"layers","diff_ids":["$diff_id"]},
 "history":[{"created":"$created","created_by":"prov lab: debootstrap --variant=minbase $SUITE"}]}
JSON
config_id="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
mv "$work/config.json" "$work/$config_id.json"
cat >"$work/manifest.json" <<JSON
[{"Config":"$config_id.json","RepoTags":["debian:$SUITE-slim"],"Layers":["layer/layer.tar"]}]
JSON
tar -C "$work" -cf "$OUT.tmp" manifest.json "$config_id.json" layer
mv "$OUT.tmp" "$OUT"
log "base image archive $OUT ($(du -h "$OUT" | cut -f1), $((SECONDS - T0)) s)"
echo "$OUT"
