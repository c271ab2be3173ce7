#!/usr/bin/env bash
# Runs every test with bun and ends with the line CI reads: "N passed, N failed".
# bun prints "N pass" / "N fail"; we read those from its own output and restate them.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
# Real-process tests start processes and wait for them; bunfig has no timeout key.
bun test --timeout 120000 "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
passed=$(grep -E '^ *[0-9]+ pass$' "$out" | tail -1 | grep -oE '[0-9]+' || true)
failed=$(grep -E '^ *[0-9]+ fail$' "$out" | tail -1 | grep -oE '[0-9]+' || true)
rm -f "$out"
passed=${passed:-0}
failed=${failed:-0}
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # bun failed outside any test (a load error, an unhandled rejection): count it.
  failed=1
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "no test ran"
  failed=1
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
