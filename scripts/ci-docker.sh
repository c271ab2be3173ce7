#!/usr/bin/env bash
# Prepares Docker for the driver tests, idempotently: installs docker.io and
# busybox-static when missing, starts dockerd when its socket does not answer, and
# imports the test image `berth-test/busybox:1` when absent. No registry is reachable in
# CI, so the image is built locally from busybox-static with `docker import`.
set -euo pipefail

socket=/var/run/docker.sock
image=berth-test/busybox:1
log=${DOCKERD_LOG:-/var/log/dockerd.log}
startWaitSeconds=60

need_install=0
command -v dockerd >/dev/null 2>&1 || need_install=1
command -v docker >/dev/null 2>&1 || need_install=1
[ -x /bin/busybox ] || need_install=1
if [ "$need_install" -eq 1 ]; then
  echo "ci-docker: installing docker.io and busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io busybox-static >/dev/null
fi

socket_answers() {
  curl -fsS --max-time 2 --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1
}

if ! socket_answers; then
  echo "ci-docker: starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 &
  for _ in $(seq 1 $((startWaitSeconds * 2))); do
    socket_answers && break
    sleep 0.5
  done
  if ! socket_answers; then
    echo "ci-docker: dockerd did not answer within ${startWaitSeconds}s; last log lines:" >&2
    tail -n 30 "$log" >&2 || true
    exit 1
  fi
fi

if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "ci-docker: building $image from busybox-static"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/www" "$work/rootfs/run" \
    "$work/rootfs/etc" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in sh ash httpd sleep echo cat env nc ls wc printf trap kill ps true false \
    mkdir rm head tail grep seq date yes dd; do
    ln -sf busybox "$work/rootfs/bin/$applet"
  done
  chmod 1777 "$work/rootfs/tmp"
  echo 'root:x:0:0:root:/:/bin/sh' >"$work/rootfs/etc/passwd"
  echo 'berth test page' >"$work/rootfs/www/index.html"
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  docker import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
    "$work/rootfs.tar" "$image" >/dev/null
fi
echo "ci-docker: ready ($(docker version --format '{{.Server.Version}}'), image $image)"
