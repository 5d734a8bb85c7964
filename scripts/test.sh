#!/usr/bin/env bash
# The test command: installs what is missing (scripts/setup.sh), checks the committed FFM
# bindings against a fresh jextract run when jextract is available, then runs the whole suite:
# unit tests (no privileges) and privileged tests (real kernel: maps, sockets, namespaces).
# As root, a privileged test that would skip for lack of privilege, bpffs or cgroup set-up FAILS,
# and the script fails if any privileged test was skipped for a reason other than a missing
# kernel feature ("kernel lacks ..."), which it prints.
#   sudo scripts/test.sh [extra maven args, e.g. -Dtest=SockMapTest]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$(date +%s)

bash "$root/scripts/setup.sh"
source "$root/scripts/lib/find-jdk.sh"

jx="${JEXTRACT:-$root/../shared/tools/jextract/jextract}"
if [[ -x "$jx" ]]; then
  bash "$root/scripts/jextract.sh" --check
else
  echo "test.sh: no jextract at $jx; skipping the bindings check" >&2
fi

require=false
[[ $(id -u) -eq 0 ]] && require=true
mvn_args=(-B -ntp -Dsockmap4j.requirePrivileged=$require -Dsurefire.reportFormat=plain)

echo "== unit tests (no privileges needed) =="
rm -rf target/surefire-reports target/unit-reports target/privileged-reports
mvn "${mvn_args[@]}" test -DexcludedGroups=privileged "$@"
mv target/surefire-reports target/unit-reports

echo "== privileged tests (real kernel) =="
mvn "${mvn_args[@]}" surefire:test -Dgroups=privileged -DfailIfNoTests=false -Dsurefire.failIfNoSpecifiedTests=false "$@"
mv target/surefire-reports target/privileged-reports

count() { # dir attr -> sum of that attribute over the suites' XML reports
  local total=0 n
  for f in "$1"/TEST-*.xml; do
    [[ -f "$f" ]] || continue
    n=$(sed -n "s/.*<testsuite [^>]*$2=\"\([0-9]*\)\".*/\1/p" "$f" | head -1)
    total=$((total + ${n:-0}))
  done
  echo "$total"
}
unit=$(count target/unit-reports tests); unit_skip=$(count target/unit-reports skipped)
priv=$(count target/privileged-reports tests); priv_skip=$(count target/privileged-reports skipped)

bad=0
# a skip's reason is in message="..." or, for aborted assumptions, in the CDATA after the type
skips=$( { grep -ho '<skipped message="[^"]*"' target/privileged-reports/TEST-*.xml 2>/dev/null \
             | sed 's/<skipped message="//;s/"$//'
           grep -ho '<skipped type="[^"]*"><!\[CDATA\[[^:]*: .*' target/privileged-reports/TEST-*.xml 2>/dev/null \
             | sed 's/^<skipped type="[^"]*"><!\[CDATA\[[^:]*: //'; } || true)
if [[ "$priv_skip" -gt 0 && -z "$skips" ]]; then
  skips="(a privileged test was skipped and its reason could not be read)"
fi
if [[ -n "$skips" ]]; then
  echo "privileged tests skipped:" >&2
  while IFS= read -r why; do
    echo "  - $why" >&2
    [[ "$why" == "kernel lacks"* ]] || bad=1
  done <<<"$skips"
fi
if [[ "$require" == true && "$priv" -eq 0 ]]; then
  echo "test.sh: no privileged test ran" >&2; bad=1
fi
elapsed=$(( $(date +%s) - start ))
echo "test.sh: unit: $unit run, $unit_skip skipped; privileged: $priv run, $priv_skip skipped; ${elapsed}s"
if ((bad)); then
  echo "test.sh: FAILED: privileged tests were skipped for a reason other than a missing kernel feature" >&2
  exit 1
fi
