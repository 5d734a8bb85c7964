#!/usr/bin/env bash
# Control-plane benchmarks: the JMH benchmarks in src/test/java/org/sockmap4j/bench and a C libbpf
# baseline (src/test/c/bench_ops.c) doing the same operations timed the same way. Each operation
# is run as a pair, C and Java one right after the other (C first in odd rounds, Java first in
# even ones), so both sides of a ratio see the same machine; ROUNDS rounds (default 3). Then one
# table: operation, Java ns/op, C ns/op (medians), ratio (median of the rounds' Java/C ratios) and
# its range, Java bytes allocated per op (JMH's gc profiler). Before the table, the bytes the heap
# gave the thread over 800,000 map calls per map kind after warm-up (AllocationCount, exact),
# and (all operations only) the library's map calls against the same C loops called inside the
# JVM (SameProcess, src/test/c/bench_loop.c): the Java layer's own cost, without the difference
# between a JVM process and a small C one.
# The last line is "worst ratio: X.XX".
# Needs root (BPF). Environment: ROUNDS, ITER_MS (milliseconds per iteration, default 1000),
# OPS (space-separated subset of the operations below).
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
gcc -O2 -Wall -Werror -shared -fPIC -o "$out/libbench_loop.so" src/test/c/bench_loop.c -lbpf
cp="target/test-classes:target/classes:$(cat target/bench-classpath.txt)"
jvm=(--enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED)

all_ops="put/sockmap remove/sockmap putRemove/sockmap replace/sockmap lookup/sockmap
put/sockhash_u32 remove/sockhash_u32 putRemove/sockhash_u32 replace/sockhash_u32 lookup/sockhash_u32
put/sockhash_tuple remove/sockhash_tuple putRemove/sockhash_tuple replace/sockhash_tuple lookup/sockhash_tuple
iterate10k loadObject attachDetach"
ops="${OPS:-$all_ops}"
iter_s="$(awk "BEGIN {print $iter_ms/1000}")"

c_side() { # round, index, op
  "$out/bench_ops" target/classes/org/sockmap4j/bpf "$iter_s" "$3" > "$out/c-$1-$2.txt"
  grep -q "^op $3 " "$out/c-$1-$2.txt" || { echo "bench-ops.sh: C baseline has no operation '$3'" >&2; exit 1; }
}

java_side() { # round, index, op: put/sockmap -> MapOpsBenchmark.put with map=sockmap
  local bench params=()
  if [[ "$3" == */* ]]; then
    bench="MapOpsBenchmark\\.${3%%/*}\$"
    params=(-p "map=${3#*/}")
  else
    bench="ControlBenchmark\\.$3\$"
  fi
  java "${jvm[@]}" -cp "$cp" org.openjdk.jmh.Main "org\\.sockmap4j\\.bench\\.$bench" "${params[@]}" \
    -f 1 -wi 2 -w "${iter_ms}ms" -i 3 -r "${iter_ms}ms" -prof gc \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED" \
    -rf json -rff "$out/jmh-$1-$2.json" > "$out/jmh-$1-$2.log" 2>&1 || { tail -30 "$out/jmh-$1-$2.log" >&2; exit 1; }
}

for r in $(seq 1 "$rounds"); do
  i=0
  for op in $ops; do
    i=$((i + 1))
    echo "bench-ops.sh: round $r/$rounds: $op" >&2
    if (( r % 2 == 1 )); then
      c_side "$r" "$i" "$op"; java_side "$r" "$i" "$op"
    else
      java_side "$r" "$i" "$op"; c_side "$r" "$i" "$op"
    fi
  done
done

echo "bench-ops.sh: counting bytes allocated per map operation" >&2
java "${jvm[@]}" -cp "$cp" org.sockmap4j.bench.AllocationCount > "$out/allocation.txt"
if [[ -z "${OPS:-}" ]]; then
  echo "bench-ops.sh: the Java path against the same C loops inside the JVM" >&2
  java "${jvm[@]}" -cp "$cp" org.sockmap4j.bench.SameProcess "$out/libbench_loop.so" "$rounds" > "$out/same-process.txt"
else
  : > "$out/same-process.txt"
fi

{
  echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "jdk: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1); libbpf: $(dpkg-query -W -f='${Version}' libbpf1 2>/dev/null || echo '?')"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  cat "$out/allocation.txt"
  cat "$out/same-process.txt"
  java -cp "$cp" org.sockmap4j.bench.BenchReport "$out"
} | tee "$out/report.txt"
