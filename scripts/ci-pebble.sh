#!/usr/bin/env bash
# Prepares Pebble for the ACME tests (test/acme/, test/e2e/acme.test.ts), idempotently: installs Debian's
# `pebble` package (which ships both `pebble` and `pebble-challtestsrv`) when either
# binary is missing. The tests start their own Pebble processes on loopback ports; this
# script starts nothing.
set -euo pipefail

pebble=/usr/bin/pebble
challtestsrv=/usr/bin/pebble-challtestsrv

# openssl makes the self-signed certificates of the custom-certificate tests.
if [ ! -x "$pebble" ] || [ ! -x "$challtestsrv" ] || ! command -v openssl >/dev/null 2>&1; then
  echo "ci-pebble: installing pebble and openssl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq pebble openssl >/dev/null
fi

for binary in "$pebble" "$challtestsrv"; do
  if [ ! -x "$binary" ]; then
    echo "ci-pebble: $binary is still missing after installing the pebble package" >&2
    exit 1
  fi
done
version=$(dpkg-query -W -f '${Version}' pebble 2>/dev/null || echo unknown)
echo "ci-pebble: ready (pebble $version)"
