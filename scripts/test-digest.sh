#!/usr/bin/env bash
# Prints, after a failed `bun test`, the last lines before each "(fail)" line of its log (the error and its message),
# so the reason of every failure is at the end of the output, where a truncated CI log still shows it.
set -euo pipefail
log="${1:?usage: test-digest.sh <bun test log>}"
lines="${X0_DIGEST_LINES:-40}"
echo
echo "=== why each test failed (the ${lines} lines before each (fail) in ${log}) ==="
awk -v keep="$lines" '
  /^[0-9]+ tests? failed:/ { exit }
  /^\(fail\)/ {
    print "--- " $0
    start = (NR - keep > 1) ? NR - keep : 1
    for (i = start; i < NR; i++) if (i in buffer) print "  " buffer[i]
    delete buffer
    next
  }
  { buffer[NR] = substr($0, 1, 300); delete buffer[NR - keep] }
' "$log"
