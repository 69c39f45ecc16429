#!/usr/bin/env bash
# Runs every fuzz target listed in fuzz/targets.txt for a while each.
#   fuzz/run.sh            5 minutes per target
#   fuzz/run.sh 30s        30 seconds per target
#   fuzz/run.sh 1h FuzzSearch   one target
# A failure leaves the crasher under <package>/testdata/fuzz/<target>/;
# commit it: from then on plain `go test` replays it as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
time_per_target="${1:-5m}"
only="${2:-}"
status=0
while read -r pkg target; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  [[ -n "$only" && "$target" != "$only" ]] && continue
  echo "== $target ($pkg) for $time_per_target"
  if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$time_per_target" "$pkg"; then
    status=1
    echo "!! $target failed; the crasher is in $pkg/testdata/fuzz/$target/" >&2
  fi
done < fuzz/targets.txt
exit $status
