#!/usr/bin/env bash
# Runs make lab N times in a row (default 30) and prints, per run, the
# verdict, the wall time, the first failure's cause, and what was left
# behind: kind node containers, Docker networks other than the engine's
# defaults and kind's shared "kind" network, kind clusters, frozen cgroups
# (cgroup v1 freezer.state FROZEN/FREEZING, the race tests/cluster/freezer.go
# explains), and whether dockerd was restarted. Exits non-zero unless every
# run passed and nothing leaked.
#
# usage: scripts/lab-soak.sh [N] [go test args...]
#   e.g. scripts/lab-soak.sh 10 -run TestRealIstioControlPlane  (one test's soak)
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-30}
[ $# -gt 0 ] && shift
pass=0
leaked=0
dockerd_pid() { pgrep -o -x dockerd || echo none; }
frozen() {
  [ -d /sys/fs/cgroup/freezer ] || { echo 0; return; }
  grep -l -E 'FROZEN|FREEZING' -r /sys/fs/cgroup/freezer --include=freezer.state 2>/dev/null | wc -l
}
leaks() {
  local c k net
  c=$(docker ps -a -q --filter label=io.x-k8s.kind.cluster | wc -l)
  net=$(docker network ls --format '{{.Name}}' | grep -vc -E '^(bridge|host|none|kind)$')
  k=$(docker ps -a --format '{{.Label "io.x-k8s.kind.cluster"}}' | sort -u | grep -c . )
  echo "containers=$c networks=$net clusters=$k frozen-cgroups=$(frozen)"
}
clean() { [ "$1" = "containers=0 networks=0 clusters=0 frozen-cgroups=0" ]; }
before_pid=$(dockerd_pid)
echo "before: $(leaks) dockerd=$before_pid"
for i in $(seq 1 "$n"); do
  start=$SECONDS
  log="/tmp/mc-lab-soak-$i.log"
  if bash scripts/lab.sh "$@" >"$log" 2>&1; then v=PASS; pass=$((pass + 1)); cause=""; else
    v=FAIL; cause=" cause: $(grep -m1 -E -e '--- FAIL|^FAIL|Error:|panic:' "$log" | cut -c1-200)"
  fi
  now=$(leaks); pid=$(dockerd_pid)
  restarted=""
  if [ "$before_pid" != none ] && [ "$pid" != "$before_pid" ]; then restarted=" DOCKERD RESTARTED ($before_pid -> $pid)"; leaked=$((leaked + 1)); fi
  before_pid=$pid  # the first run may start the lab's engine
  clean "$now" || leaked=$((leaked + 1))
  echo "run $i/$n: $v in $((SECONDS - start))s; left behind: $now$restarted$cause (log $log)"
done
echo "soak: $pass/$n green, $leaked run(s) with leaks; after: $(leaks)"
[ "$pass" = "$n" ] && [ "$leaked" = 0 ]
