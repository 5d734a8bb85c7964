#!/bin/bash
# Prints the README's table of features by kernel, from the library's own probes: this host's
# (`sockmap probe --json`, run now) and each kernel's that scripts/vmtest.sh ran
# (target/vmtest/VERSION/probe.json), oldest kernel first. Needs root (the probes create BPF
# objects) and a built tree (mvn package, or scripts/test.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
java="$JAVA_HOME/bin/java"
jar=$(ls target/sockmap4j-*-cli.jar 2>/dev/null | head -1)
[[ -n "$jar" ]] || { echo "kernel-table.sh: no target/sockmap4j-*-cli.jar; run mvn -o package -DskipTests first" >&2; exit 1; }
host=$(mktemp)
trap 'rm -f "$host"' EXIT
"$java" --enable-native-access=ALL-UNNAMED -jar "$jar" probe --json >"$host"
files=()
while IFS= read -r f; do files+=("$f"); done < <(ls target/vmtest/*/probe.json 2>/dev/null | sort -V)
"$java" scripts/vmtest/KernelTable.java "${files[@]}" "$host"
