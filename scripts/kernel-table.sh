#!/bin/bash
# Prints the README's table of features by kernel from the library's own probes: the
# `sockmap probe --json` outputs kept in docs/kernels/ (one per kernel scripts/vmtest.sh booted,
# copied there from target/vmtest/VERSION/probe.json) and this host's, probed now. Columns go
# oldest kernel first. Needs root (the probes create BPF objects) and a built CLI jar
# (mvn -o package -DskipTests, or scripts/test.sh).
#   scripts/kernel-table.sh [--save]   --save also copies target/vmtest/*/probe.json to docs/kernels/
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
java="$JAVA_HOME/bin/java"
if [[ "${1:-}" == "--save" ]]; then
  mkdir -p docs/kernels
  for f in target/vmtest/*/probe.json; do
    [[ -s "$f" ]] && cp "$f" "docs/kernels/$(basename "$(dirname "$f")").json"
  done
fi
jar=$(ls target/sockmap4j-*-cli.jar 2>/dev/null | head -1 || true)
[[ -n "$jar" ]] || { echo "kernel-table.sh: no target/sockmap4j-*-cli.jar; run mvn -o package -DskipTests first" >&2; exit 1; }
host=$(mktemp)
trap 'rm -f "$host"' EXIT
"$java" --enable-native-access=ALL-UNNAMED -jar "$jar" probe --json >"$host"
files=()
while IFS= read -r f; do files+=("$f"); done < <(ls docs/kernels/*.json 2>/dev/null | sort -V)
"$java" scripts/vmtest/KernelTable.java "${files[@]}" "$host"
