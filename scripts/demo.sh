#!/usr/bin/env bash
# The talk's headline result on this machine: installs what is missing, builds, and runs
# `sockmap bench latency` (TCP ping-pong between two network namespaces, without and with the
# SOCKMAP bypass). Needs root. Extra arguments go to the bench, e.g. --time 30 --json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: needs root (network namespaces, cgroups and BPF): sudo scripts/demo.sh" >&2
  exit 1
fi
bash "$root/scripts/setup.sh"
source "$root/scripts/lib/find-jdk.sh"
echo "demo.sh: building..." >&2
(cd "$root" && mvn -B -q -ntp package -DskipTests) >&2
exec "$root/scripts/sockmap" bench latency "$@"
