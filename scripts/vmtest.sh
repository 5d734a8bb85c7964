#!/usr/bin/env bash
# Runs the privileged test suite on older (or newer) kernels, each in a virtual machine:
#   sudo scripts/vmtest.sh KERNEL...      KERNEL: 5.10 | 6.1 | 6.12 | all
# For each kernel it
#  1. fetches Debian's generic kernel package (5.10 from bullseye, 6.1 from bookworm, 6.12 from
#     bookworm-backports; the generic flavour, which has 9p, not -cloud-) with `apt-get download`
#     through a private apt configuration (the host's apt sources are not changed; the mirrors
#     are the ones the host's apt uses) and caches it, unpacked, outside the repository in
#     $VMTEST_CACHE (default ~/.cache/sockmap4j/vmtest);
#  2. builds an initramfs: busybox-static, the modules the guest needs (9p, virtio, veth,
#     vsock_loopback where the kernel has it, with their dependencies) and scripts/vmtest/init;
#  3. boots it with qemu under TCG (-m 4G -smp 2), the host's root shared read-only over 9p and a
#     host temp dir shared writable for the results; the guest mounts tmpfs, proc, sys,
#     devtmpfs, bpffs and cgroup2, chroots into the host root and runs scripts/vmtest/guest-run.sh:
#     the tests tagged `privileged`, with the JUnit console launcher on the classpath built here,
#     the pom's surefire JVM flags and -Dsockmap4j.requirePrivileged=true;
#  4. prints `kernel VERSION: N passed, N failed, N skipped (boot S s, tests S s, total S s)`,
#     the failed tests with the first line of their message and the skip reasons, and keeps the
#     reports, the console log and the time per test class in target/vmtest/VERSION/.
# Exits non-zero if a test failed on any kernel, a privileged test was skipped for a reason
# other than "kernel lacks ..." (as scripts/test.sh), or a guest did not finish.
#
# Environment (all optional):
#   VMTEST_CACHE     where kernels and the launcher jar are cached (default ~/.cache/sockmap4j/vmtest)
#   VMTEST_REFRESH=1 look for a newer kernel package even if one is cached
#   VMTEST_TIMEOUT   seconds one boot may take, tests included (default 3600); qemu is killed then
#   VMTEST_BOOT_TIMEOUT  seconds until the guest must have started the tests (default 300)
#   VMTEST_KVM=1     try KVM first (it hangs on this project's machines), falling back to TCG
#                    when the guest has not started the tests after VMTEST_KVM_BOOT_TIMEOUT (60 s)
#   VMTEST_MEM, VMTEST_SMP   guest memory and CPUs (default 4G, 2)
#   VMTEST_CPU       qemu's -cpu model (default max)
#   VMTEST_TCG_THREAD  single (default: all vCPUs in turns on one host thread) or multi
#                    (one host thread per vCPU: faster, but the JIT's code patching races there)
#   VMTEST_CLASSES   only these test classes (comma-separated, simple or qualified names)
#   VMTEST_EXCLUDE   leave out test classes whose qualified name matches this regex,
#                    e.g. 'org\.sockmap4j\.cli\..*' (the CLI tests start many JVMs: slow under TCG)
#   VMTEST_JVM_ARGS  extra JVM flags for the test JVM, e.g. -XX:TieredStopAtLevel=1
#   VMTEST_MEMLOCK   RLIMIT_MEMLOCK (KiB or unlimited) in the guest; default: the kernel's own
#   VMTEST_NO_BUILD=1  use target/ as it is (no mvn test-compile)
#   VMTEST_JOBS      how many guests run at once (default 1). A TCG guest keeps about one host
#                    CPU busy (single-threaded TCG), so on a 2-CPU host VMTEST_JOBS=2 runs `all`
#                    in about the time of its two longest kernels without slowing either
#   VMTEST_DEBIAN_MIRROR, VMTEST_SECURITY_MIRROR   override the mirrors read from the host's apt
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$root/scripts/vmtest"
me="vmtest.sh"

usage() { echo "usage: $me KERNEL...   (KERNEL: 5.10, 6.1, 6.12 or all)" >&2; exit 2; }
(($#)) || usage
labels=()
for a in "$@"; do
  case "$a" in
    all) labels+=(5.10 6.1 6.12) ;;
    5.10 | 6.1 | 6.12) labels+=("$a") ;;
    -h | --help) usage ;;
    *) echo "$me: unknown kernel '$a'" >&2; usage ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "$me: needs root (apt-get, and the guest runs the privileged tests as root): sudo $0 $*" >&2
  exit 1
fi

cache="${VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sockmap4j/vmtest}"
limit="${VMTEST_TIMEOUT:-3600}"
boot_limit="${VMTEST_BOOT_TIMEOUT:-300}"
mem="${VMTEST_MEM:-4G}"
smp="${VMTEST_SMP:-2}"
results="$root/target/vmtest"
mkdir -p "$cache"

# ---------------------------------------------------------------------------------------------
# Temp dir and clean-up: qemu (started under `timeout`) is killed by pid, never left running.
tmp="$(mktemp -d /tmp/sockmap4j-vmtest.XXXXXX)"
vm_pid=""   # the `timeout` process wrapping qemu
cleanup() {
  local rc=$?
  if [[ -n "$vm_pid" ]] && kill -0 "$vm_pid" 2>/dev/null; then
    kill -TERM "$vm_pid" 2>/dev/null || true   # timeout passes it on to qemu
    for _ in 1 2 3 4 5; do kill -0 "$vm_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$vm_pid" 2>/dev/null || true
  fi
  # qemu itself, in case `timeout` went first
  local qpid
  for f in "$tmp"/qemu-*.pid; do
    [[ -f "$f" ]] || continue
    qpid="$(cat "$f" 2>/dev/null || true)"
    if [[ -n "$qpid" ]] && [[ "$(cat "/proc/$qpid/comm" 2>/dev/null)" == qemu-system-* ]]; then
      kill -KILL "$qpid" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

log() { echo "$me: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# What the host needs, installed idempotently (the build's own needs come from setup.sh).
host_pkgs=(qemu-system-x86 busybox-static cpio kmod xz-utils zstd)
missing=()
for p in "${host_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash "$root/scripts/setup.sh"
source "$root/scripts/lib/find-jdk.sh"

# ---------------------------------------------------------------------------------------------
# Build once on the host; the guest reads target/ and ~/.m2 through the read-only 9p share.
mvn_=(mvn -B -q -ntp -f "$root/pom.xml")
if [[ "${VMTEST_NO_BUILD:-}" != 1 ]]; then
  log "building (mvn test-compile)"
  "${mvn_[@]}" test-compile >&2
fi
[[ -d "$root/target/test-classes" ]] || die "no target/test-classes: build first (or unset VMTEST_NO_BUILD)"
"${mvn_[@]}" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile="$tmp/deps.cp" >&2
deps="$(cat "$tmp/deps.cp")"
# The console launcher matching the JUnit Platform the tests are built against.
platform="$(tr ':' '\n' <<<"$deps" | sed -n 's|.*/junit-platform-engine-\([^/]*\)\.jar$|\1|p' | head -1)"
[[ -n "$platform" ]] || die "cannot find junit-platform-engine on the test classpath"
launcher="$cache/junit/junit-platform-console-standalone-$platform.jar"
if [[ ! -f "$launcher" ]]; then
  log "fetching junit-platform-console-standalone $platform"
  "${mvn_[@]}" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="org.junit.platform:junit-platform-console-standalone:$platform" \
    -DoutputDirectory="$cache/junit" >&2
fi
classpath="$root/target/test-classes:$root/target/classes:$deps:$launcher"

# The JVM flags and JUnit configuration of the pom's surefire set-up, so that both runs agree.
argline="$(sed -n 's:.*<argLine>\(.*\)</argLine>.*:\1:p' "$root/pom.xml" | head -1)"
[[ -n "$argline" ]] || die "no <argLine> in pom.xml"
read -r -a jvm_args <<<"$argline"
jvm_args+=(-Dsockmap4j.requirePrivileged=true
  # TCG is 6-9 times slower than the host: IntegrityTest moves 1 MiB each way per connection
  # (64 connections, 128 MiB in all) instead of 8 MiB, so its waits hold. VMTEST_JVM_ARGS can
  # set it back (-Dsockmap4j.integrity.bytes=8388608: a later -D wins).
  -Dsockmap4j.integrity.bytes=1048576
  # and ManyPairsTest splices 2,000 pairs one after another instead of 10,000 (4-minute budget)
  -Dsockmap4j.manypairs.count=2000
  # and EchoRoundsTest runs 3 rounds of echo load instead of 10
  -Dsockmap4j.echorounds.rounds=3)
if [[ -n "${VMTEST_JVM_ARGS:-}" ]]; then
  read -r -a extra <<<"$VMTEST_JVM_ARGS"
  jvm_args+=("${extra[@]}")
fi
launcher_args=(--disable-banner --disable-ansi-colors --details=testfeed --include-engine=junit-jupiter --include-tag=privileged
  # surefire's default includes, top-level classes only
  "--include-classname=^(.*\.)?(Test[^.\$]*|[^.\$]*Test|[^.\$]*Tests|[^.\$]*TestCase)\$")
while IFS= read -r kv; do
  kv="$(sed 's/^[[:space:]]*//;s/[[:space:]]*$//;s/[[:space:]]*=[[:space:]]*/=/' <<<"$kv")"
  [[ -n "$kv" ]] && launcher_args+=("--config=$kv")
done < <(sed -n '/<configurationParameters>/,/<\/configurationParameters>/p' "$root/pom.xml" | sed '/configurationParameters>/d')
[[ -n "${VMTEST_EXCLUDE:-}" ]] && launcher_args+=("--exclude-classname=$VMTEST_EXCLUDE")
if [[ -n "${VMTEST_CLASSES:-}" ]]; then
  IFS=', ' read -r -a wanted <<<"$VMTEST_CLASSES"
  for c in "${wanted[@]}"; do
    [[ -n "$c" ]] || continue
    if [[ "$c" != *.* ]]; then # simple name: find it under target/test-classes
      f="$(cd "$root/target/test-classes" && find . -name "$c.class" | head -1)"
      [[ -n "$f" ]] || die "no test class $c in target/test-classes"
      f="${f#./}"; c="${f%.class}"; c="${c//\//.}"
    fi
    launcher_args+=("--select-class=$c")
  done
else
  launcher_args+=("--scan-class-path=$root/target/test-classes")
fi

# ---------------------------------------------------------------------------------------------
# Kernel packages, through a private apt configuration.
. /etc/os-release
host_mirror() { # SUITE -> the URI the host's apt uses for SUITE/main
  apt-cache policy 2>/dev/null | awk -v s="$1/main" '$3 == s { print $2; exit }'
}
debian_mirror="${VMTEST_DEBIAN_MIRROR:-$(host_mirror "${VERSION_CODENAME:-bookworm}")}"
security_mirror="${VMTEST_SECURITY_MIRROR:-$(host_mirror "${VERSION_CODENAME:-bookworm}-security")}"

apt_private() { # DIR SOURCES-LINE... -> sets apt_opts for a private apt state in DIR
  local d="$1"; shift
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/state" "$d/parts" "$d/prefs"
  printf '%s\n' "$@" >"$d/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/parts"
    -o "Dir::Etc::PreferencesParts=$d/prefs" -o "Dir::Etc::Preferences=$d/prefs/none"
    -o "Dir::State=$d/state" -o "Dir::State::Lists=$d/lists" -o "Dir::State::status=/dev/null"
    -o "Dir::Cache=$d/cache" -o APT::Architecture=amd64 -o Acquire::Languages=none
    -o APT::Sandbox::User=root -q)
}

fetch_kernel() { # LABEL -> prints the path of the cached .deb
  local label="$1" suites pattern key="/usr/share/keyrings/debian-archive-keyring.gpg"
  local pinfile="$cache/debs/$label.package" lines=()
  case "$label" in
    5.10) pattern='^linux-image-5\.10\.0-[0-9]+-amd64$'
      lines=("deb [signed-by=$key] $debian_mirror bullseye main" "deb [signed-by=$key] $debian_mirror bullseye-updates main")
      [[ -n "$security_mirror" ]] && lines+=("deb [signed-by=$key] $security_mirror bullseye-security main") ;;
    6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64$'
      lines=("deb [signed-by=$key] $debian_mirror bookworm main" "deb [signed-by=$key] $debian_mirror bookworm-updates main")
      [[ -n "$security_mirror" ]] && lines+=("deb [signed-by=$key] $security_mirror bookworm-security main") ;;
    6.12) pattern='^linux-image-6\.12\.[0-9]+\+[a-z0-9.~]*-amd64$'
      lines=("deb [signed-by=$key] $debian_mirror bookworm-backports main") ;;
  esac
  mkdir -p "$cache/debs"
  if [[ "${VMTEST_REFRESH:-}" != 1 && -f "$pinfile" && -f "$cache/debs/$(cat "$pinfile")" ]]; then
    echo "$cache/debs/$(cat "$pinfile")"
    return
  fi
  [[ -n "$debian_mirror" ]] || die "cannot tell the Debian mirror from the host's apt sources; set VMTEST_DEBIAN_MIRROR"
  log "$label: looking up the newest generic kernel package"
  local d="$tmp/apt-$label"
  apt_private "$d" "${lines[@]}"
  apt-get "${apt_opts[@]}" update >&2
  # The metapackage names the newest generic kernel of those suites (apt picks the newest one).
  local pkg
  pkg="$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')"
  [[ "$pkg" =~ $pattern ]] || die "$label: linux-image-amd64 depends on '$pkg', not a generic $label kernel"
  mkdir -p "$d/dl"
  (cd "$d/dl" && apt-get "${apt_opts[@]}" download "$pkg" >&2)
  local deb
  deb="$(cd "$d/dl" && ls -- "$pkg"_*.deb)"
  mv "$d/dl/$deb" "$cache/debs/$deb"
  echo "$deb" >"$pinfile"
  log "$label: cached $deb"
  echo "$cache/debs/$deb"
}

# Modules the guest loads. Required: the 9p root, virtio, veth (tests make veth pairs).
# Optional: what the tests use where the kernel has it.
required_mods=(virtio_pci 9pnet_virtio 9p veth)
optional_mods=(vsock_loopback virtio_rng overlay)

prepare_kernel() { # DEB -> sets kver and kdir: vmlinuz + the modules, uncompressed, in load order
  local deb="$1" pkg
  pkg="$(dpkg-deb -f "$deb" Package)"
  kver="${pkg#linux-image-}"
  kdir="$cache/kernels/$kver"
  [[ -f "$kdir/ready" ]] && return
  log "$kver: unpacking and resolving modules"
  local x="$tmp/unpack-$kver" base
  rm -rf "$x" "$kdir"
  mkdir -p "$x" "$kdir/modules"
  dpkg-deb -x "$deb" "$x"
  if [[ -d "$x/lib/modules/$kver" ]]; then base="$x"; else base="$x/usr"; fi
  [[ -d "$base/lib/modules/$kver" ]] || die "$deb has no lib/modules/$kver"
  depmod -b "$base" "$kver"
  cp "$x/boot/vmlinuz-$kver" "$kdir/vmlinuz"
  : >"$kdir/modules/order"
  : >"$kdir/notes"
  local m line path name kind entry
  for entry in "${required_mods[@]/#/required:}" "${optional_mods[@]/#/optional:}"; do
    kind="${entry%%:*}" m="${entry#*:}"
    if ! modprobe -d "$base" -S "$kver" --show-depends "$m" >"$x/deps" 2>"$x/err"; then
      [[ "$kind" == required ]] && die "$kver: no module $m: $(cat "$x/err")"
      echo "no $m" >>"$kdir/notes"
      continue
    fi
    while read -r line; do
      case "$line" in
        builtin*) echo "${line#builtin } built in" >>"$kdir/notes" ;;
        insmod*)
          path="$(awk '{ print $2 }' <<<"$line")"
          name="$(basename "$path")"; name="${name%%.ko*}"
          grep -qx "$name" "$kdir/modules/order" && continue
          case "$path" in
            *.ko.xz) xz -dc "$path" >"$kdir/modules/$name.ko" ;;
            *.ko.zst) zstd -qdc "$path" >"$kdir/modules/$name.ko" ;;
            *.ko.gz) gzip -dc "$path" >"$kdir/modules/$name.ko" ;;
            *) cp "$path" "$kdir/modules/$name.ko" ;;
          esac
          echo "$name" >>"$kdir/modules/order" ;;
      esac
    done <"$x/deps"
  done
  rm -rf "$x"
  touch "$kdir/ready"
}

build_initramfs() { # -> $tmp/initramfs-$kver.cpio.gz
  local ir="$tmp/initramfs-$kver"
  rm -rf "$ir"
  mkdir -p "$ir"/{bin,sbin,proc,sys,dev,mnt,tmp,modules}
  cp /bin/busybox "$ir/bin/busybox"
  cp "$here/init" "$ir/init"
  chmod 755 "$ir/init"
  cp "$kdir"/modules/* "$ir/modules/"
  {
    printf 'VMTEST_REPO=%q\n' "$root"
    printf 'VMTEST_HOSTNAME=%q\n' "$(hostname)"
    printf 'VMTEST_NOFILE=%q\n' "$(ulimit -n)"
    printf 'VMTEST_MEMLOCK=%q\n' "${VMTEST_MEMLOCK:-}"
  } >"$ir/vmtest.conf"
  (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp/initramfs-$kver.cpio.gz"
  rm -rf "$ir"
}

# ---------------------------------------------------------------------------------------------
run_guest() { # ACCEL OUT LOG BOOT_LIMIT -> exit status of qemu/timeout; sets booted_after (s) or empty
  local accel="$1" out="$2" console="$3" boot_limit="$4" cpu="${VMTEST_CPU:-max}"
  local t0 now; t0=$(date +%s)
  booted_after=""
  rm -f "$tmp/qemu-$kver.pid"
  local accel_opt="$accel"
  # Single-threaded TCG by default: with qemu 7.2's multi-threaded TCG the test JVM crashed in 3 of
  # 5 full runs, on an instruction torn between the old and new bytes of code the JIT was patching
  # on the other vCPU (docs/vmtest.md). thread=single runs the vCPUs in turns on one host thread.
  [[ "$accel" == tcg ]] && accel_opt="tcg,thread=${VMTEST_TCG_THREAD:-single}"
  local qemu=(qemu-system-x86_64 -machine q35 -accel "$accel_opt" -cpu "$cpu" -m "$mem" -smp "$smp"
    -display none -monitor none -serial stdio -no-reboot -nic none
    -kernel "$kdir/vmlinuz" -initrd "$tmp/initramfs-$kver.cpio.gz"
    -append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init"
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
    -virtfs "local,path=$out,mount_tag=vmout,security_model=none,multidevs=remap"
    -virtfs "local,path=$root,mount_tag=repo,security_model=none,readonly=on,multidevs=remap"
    -device virtio-rng-pci
    -pidfile "$tmp/qemu-$kver.pid")
  (exec timeout -k 10 "$limit" "${qemu[@]}") </dev/null >"$console" 2>&1 &
  vm_pid=$!
  # Show the console as it comes (ends by itself with qemu).
  tail -n +1 -f --pid="$vm_pid" "$console" 2>/dev/null | sed -u "s/\r\$//; s/^/[$kver] /" >&2 &
  while kill -0 "$vm_pid" 2>/dev/null; do
    now=$(date +%s)
    if [[ -z "$booted_after" ]]; then
      if grep -q 'vmtest-init: running the tests' "$console"; then
        booted_after=$((now - t0))
      elif ((now - t0 > boot_limit)); then
        log "$kver: the guest did not start the tests within ${boot_limit}s ($accel); stopping it"
        kill -TERM "$vm_pid" 2>/dev/null || true
        break
      fi
    fi
    sleep 1
  done
  local rc=0
  wait "$vm_pid" || rc=$?
  vm_pid=""
  wait || true # the console tail
  return "$rc"
}

run_kernel() { # LABEL -> sets kernel_line (the summary line) and kernel_bad (1 if the kernel failed)
  local label="$1" deb out console start accel qrc total keep run_s status how passed failed skipped badskips line bad
  deb="$(fetch_kernel "$label")"
  prepare_kernel "$deb"
  build_initramfs
  out="$tmp/out-$kver"
  rm -rf "$out"; mkdir -p "$out/reports"
  {
    printf 'JAVA_HOME=%q\n' "$JAVA_HOME"
    printf 'VMTEST_REPO=%q\n' "$root"
    printf 'VMTEST_CP=%q\n' "$classpath"
    printf 'VMTEST_JAVA_TIMEOUT=%q\n' "$((limit > boot_limit + 120 ? limit - boot_limit : limit))"
    printf 'VMTEST_JVM_ARGS=(%s)\n' "$(printf '%q ' "${jvm_args[@]}")"
    printf 'VMTEST_LAUNCHER_ARGS=(%s)\n' "$(printf '%q ' "${launcher_args[@]}")"
  } >"$out/guest.env"
  console="$tmp/console-$kver.log"
  log "$kver: booting; modules: $(tr '\n' ' ' <"$kdir/modules/order")$(sed 's/^/; /' "$kdir/notes" | tr -d '\n')"
  start=$(date +%s)
  accel=tcg
  if [[ "${VMTEST_KVM:-}" == 1 ]]; then
    if [[ -w /dev/kvm ]]; then
      accel=kvm
      # A KVM guest that works boots in seconds: give up on it after a minute.
      qrc=0; run_guest kvm "$out" "$console" "${VMTEST_KVM_BOOT_TIMEOUT:-60}" || qrc=$?
      if [[ -z "$booted_after" ]]; then
        log "$kver: KVM did not work (qemu exit $qrc, no boot); falling back to TCG"
        accel=tcg; rm -rf "$out/reports"/*; start=$(date +%s)
      fi
    else
      log "$kver: /dev/kvm is not usable; using TCG"
    fi
  fi
  if [[ "$accel" == tcg ]]; then
    qrc=0; run_guest tcg "$out" "$console" "$boot_limit" || qrc=$?
  fi
  total=$(($(date +%s) - start))

  # Keep what came back, outside the temp dir.
  keep="$results/$kver"
  rm -rf "$keep"; mkdir -p "$keep"
  cp -r "$out"/. "$keep/"
  sed 's/\r$//' "$console" >"$keep/console.log"
  [[ -f "$out/run-seconds" ]] && run_s="$(cat "$out/run-seconds")" || run_s="?"
  status="$(cat "$out/exit-status" 2>/dev/null || true)"
  java "$here/Summary.java" "$keep/console.log" "$keep/reports" "$keep/class-times.txt" >"$keep/summary.txt" || true
  read -r how passed failed skipped badskips < <(head -1 "$keep/summary.txt" 2>/dev/null || echo "counts 0 0 0 0")
  : "${passed:=0}" "${failed:=0}" "${skipped:=0}" "${badskips:=0}"
  line="kernel $kver: $passed passed, $failed failed, $skipped skipped (boot ${booted_after:-?} s, tests $run_s s, total $total s, $accel)"
  bad=0
  if [[ "$how" == counts-from-feed ]]; then
    line+=" -- the launcher did not finish: counted from its test feed"; bad=1
  fi
  for f in "$keep"/hs_err_pid*.log; do
    [[ -f "$f" ]] || continue
    line+=" -- a JVM crashed: ${f#"$root"/}"; bad=1
    sed -n '/^# A fatal error/,/^# Problematic frame/p;/^# J /p;/^# C /p' "$f" | head -12 | sed 's/^/  /' >&2
  done
  if [[ -z "$status" ]]; then
    line+=" -- the guest did not finish (qemu exit $qrc; see $keep/console.log)"; bad=1
  elif ((failed > 0)); then
    bad=1
  elif [[ "$status" != 0 ]]; then
    line+=" -- the test launcher exited $status"; bad=1
  fi
  if ((badskips > 0)); then
    line+=" -- $badskips skipped for a reason other than a missing kernel feature"; bad=1
  fi
  ((passed + failed == 0)) && [[ -n "$status" ]] && { line+=" -- no test ran"; bad=1; }
  sed -n 's/^failed /  FAILED /p; s/^skipped /  skipped /p' "$keep/summary.txt" >&2 || true
  log "$kver: reports, console log and time per class in ${keep#"$root"/}/"
  kernel_line="$line"
  kernel_bad="$bad"
}

declare -a summary_lines=()
overall=0
jobs_max="${VMTEST_JOBS:-1}"
[[ "$jobs_max" =~ ^[1-9][0-9]*$ ]] || die "VMTEST_JOBS must be a positive number, not '$jobs_max'"
if ((jobs_max == 1 || ${#labels[@]} == 1)); then
  for label in "${labels[@]}"; do
    run_kernel "$label"
    ((kernel_bad)) && overall=1
    summary_lines+=("$kernel_line")
    echo "$kernel_line"
  done
else
  # Kernels side by side, each guest in its own subshell (its own qemu pid file in $tmp, which
  # the clean-up kills); their lines are printed in the order the kernels were named.
  for label in "${labels[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
    (run_kernel "$label"; echo "$kernel_line" >"$tmp/line-$label"; echo "$kernel_bad" >"$tmp/rc-$label") &
  done
  wait
  for label in "${labels[@]}"; do
    line="$(cat "$tmp/line-$label" 2>/dev/null || true)"
    [[ -n "$line" ]] || line="kernel $label: no result -- its run stopped early (see the log above)"
    [[ "$(cat "$tmp/rc-$label" 2>/dev/null || echo 1)" == 0 ]] || overall=1
    summary_lines+=("$line")
    echo "$line"
  done
fi

if ((${#summary_lines[@]} > 1)); then
  echo "== vmtest summary =="
  printf '%s\n' "${summary_lines[@]}"
fi
exit "$overall"
