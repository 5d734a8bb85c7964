#!/usr/bin/env bash
# Control-plane benchmarks: the JMH benchmarks in src/test/java/org/sockmap4j/bench and a C libbpf
# baseline (src/test/c/bench_ops.c) doing the same operations timed the same way, alternating C and
# Java for ROUNDS rounds (default 3), then one table of medians: operation, Java ns/op, C ns/op,
# ratio, Java bytes allocated per op (JMH's gc profiler). The last line is "worst ratio: X.XX".
# Needs root (BPF). Environment: ROUNDS, ITER_MS (milliseconds per iteration, default 1000).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rounds="${ROUNDS:-3}"
iter_ms="${ITER_MS:-1000}"
if [[ $(id -u) -ne 0 ]]; then
  echo "bench-ops.sh: needs root (BPF maps and programs): sudo scripts/bench-ops.sh" >&2
  exit 1
fi
bash scripts/setup.sh
source scripts/lib/find-jdk.sh

echo "bench-ops.sh: building" >&2
mvn -B -q -ntp test-compile 2>&1 | grep -v "^WARNING: .*Unsafe" || true
mvn -B -q -ntp dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-classpath.txt 2>&1 | grep -v "^WARNING: .*Unsafe" || true
out=target/bench-ops
rm -rf "$out"; mkdir -p "$out"
gcc -O2 -Wall -Werror -o "$out/bench_ops" src/test/c/bench_ops.c -lbpf
cp="target/test-classes:target/classes:$(cat target/bench-classpath.txt)"
jvm=(--enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED)

for r in $(seq 1 "$rounds"); do
  echo "bench-ops.sh: round $r/$rounds: C" >&2
  "$out/bench_ops" target/classes/org/sockmap4j/bpf "$(awk "BEGIN {print $iter_ms/1000}")" > "$out/c-$r.txt"
  echo "bench-ops.sh: round $r/$rounds: Java (JMH)" >&2
  java "${jvm[@]}" -cp "$cp" org.openjdk.jmh.Main 'org.sockmap4j.bench.*Benchmark' \
    -f 1 -wi 2 -w "${iter_ms}ms" -i 3 -r "${iter_ms}ms" -prof gc \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED" \
    -rf json -rff "$out/jmh-$r.json" > "$out/jmh-$r.log" 2>&1 || { tail -30 "$out/jmh-$r.log" >&2; exit 1; }
done

{
  echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "jdk: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1); libbpf: $(dpkg-query -W -f='${Version}' libbpf1 2>/dev/null || echo '?')"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  java -cp "$cp" org.sockmap4j.bench.BenchReport "$out"
} | tee "$out/report.txt"
