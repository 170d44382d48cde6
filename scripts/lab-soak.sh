#!/usr/bin/env bash
# Runs make lab N times in a row (default 20) and prints, per run, the
# verdict, the wall time and what was left behind: kind node containers,
# Docker networks other than the engine's defaults and kind's shared "kind"
# network, and kind clusters.
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
pass=0
leaks() {
  local c k net
  c=$(docker ps -a -q --filter label=io.x-k8s.kind.cluster | wc -l)
  net=$(docker network ls --format '{{.Name}}' | grep -vc -E '^(bridge|host|none|kind)$')
  k=$(docker ps -a --format '{{.Label "io.x-k8s.kind.cluster"}}' | sort -u | grep -c . )
  echo "containers=$c networks=$net clusters=$k"
}
echo "before: $(leaks)"
for i in $(seq 1 "$n"); do
  start=$SECONDS
  if bash scripts/lab.sh >"/tmp/mc-lab-soak-$i.log" 2>&1; then v=PASS; pass=$((pass + 1)); else v=FAIL; fi
  echo "run $i/$n: $v in $((SECONDS - start))s; left behind: $(leaks)"
done
echo "soak: $pass/$n green; after: $(leaks)"
[ "$pass" = "$n" ]
