#!/usr/bin/env bash
# Compiles every bpf/*.bpf.c with clang -O2 -g -target bpf into OUT_DIR (default
# target/classes/org/sockmap4j/bpf), where the jar picks them up as resources. Run by the Maven
# build (generate-resources); users of the jar never need clang.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/target/classes/org/sockmap4j/bpf}"
clang="${CLANG:-clang}"
if ! command -v "$clang" >/dev/null; then
  echo "build-bpf.sh: clang not found; run sudo scripts/setup.sh (needs clang for -target bpf)" >&2
  exit 1
fi
mkdir -p "$out"
arch_inc=/usr/include/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
n=0
for src in "$root"/bpf/*.bpf.c; do
  [[ -f "$src" ]] || continue
  obj="$out/$(basename "${src%.c}").o"
  if [[ ! -f "$obj" || "$src" -nt "$obj" || "$root/bpf/sockmap4j.h" -nt "$obj" ]]; then
    "$clang" -O2 -g -Wall -Werror -target bpf -I"$arch_inc" -I"$root/bpf" -c "$src" -o "$obj"
    n=$((n + 1))
  fi
done
echo "build-bpf.sh: $n object(s) compiled into ${out#$root/}" >&2
