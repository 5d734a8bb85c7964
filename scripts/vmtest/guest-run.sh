#!/bin/bash
# Runs inside the vmtest guest, chrooted into the host's root (read-only 9p, tmpfs on /tmp and
# /run): the privileged tests, with the JUnit Platform Console Launcher on the classpath that
# scripts/vmtest.sh resolved on the host. Its argument is the result share, where vmtest.sh left
# guest.env (JAVA_HOME, the classpath, the JVM and launcher arguments, a time limit) and where
# the XML reports go. Its exit status is the launcher's (1 if a test failed, 2 if none ran).
set -uo pipefail
out="$1"
# shellcheck source=/dev/null
source "$out/guest.env"
cd "$VMTEST_REPO" || exit 3
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
echo "vmtest-guest: $(java -version 2>&1 | head -1), $(nproc) CPUs, RLIMIT_MEMLOCK $(ulimit -l), nofile $(ulimit -n)"
# What the library's probes find on this kernel (for the README's table: scripts/kernel-table.sh).
java "${VMTEST_JVM_ARGS[@]}" -cp "$VMTEST_CP" org.sockmap4j.cli.Main probe --json >"$out/probe.json" 2>"$out/probe.err" \
  || echo "vmtest-guest: sockmap probe failed: $(head -c 300 "$out/probe.err")"
start=$(date +%s)
# On the time limit: SIGQUIT first (the JVM prints every thread's stack to the console and goes
# on), SIGKILL a minute later, so that a hang leaves a trace and the guest still powers off.
# A crash report of the test JVM goes to the result share (the guest's /tmp is lost at power-off).
timeout -s QUIT -k 60 "$VMTEST_JAVA_TIMEOUT" \
  java "${VMTEST_JVM_ARGS[@]}" -XX:ErrorFile="$out/hs_err_pid%p.log" -cp "$VMTEST_CP" org.junit.platform.console.ConsoleLauncher execute \
  "${VMTEST_LAUNCHER_ARGS[@]}" --reports-dir "$out/reports"
rc=$?
echo "$(($(date +%s) - start))" >"$out/run-seconds"
cp /tmp/hs_err_pid*.log "$out/" 2>/dev/null # those of child JVMs
dmesg >"$out/dmesg.txt" 2>&1
exit "$rc"
