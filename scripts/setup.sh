#!/usr/bin/env bash
# Installs, idempotently, every system package sockmap4j needs to build and test:
# a JDK 22+, Maven, clang (BPF target), libbpf, bpftool, iproute2, sockperf, gcc, and the tools
# `sockmap bench bypass` drives (iperf3, wrk, nginx-light, redis-server, redis-tools) and the peer proxies
# `sockmap bench proxy` compares ours with (haproxy, socat, nginx's stream module: libnginx-mod-stream).
# Safe to run many times; installs only what is missing. Needs root for apt-get.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

pkgs=(clang llvm libbpf1 libbpf-dev bpftool iproute2 sockperf gcc libc6-dev maven util-linux procps
      iperf3 wrk nginx-light redis-server redis-tools haproxy socat libnginx-mod-stream)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# linux/bpf.h comes from linux-libc-dev; make sure it is there.
[[ -f /usr/include/linux/bpf.h ]] || missing+=(linux-libc-dev)

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: missing packages: ${missing[*]}; run as root (sudo scripts/setup.sh)" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The redis-server, nginx and haproxy packages install system services; the benches start their
# own instances (in network namespaces, or on loopback ports of their own), so the system ones
# must neither run nor hold ports.
# With systemd: disable and stop them. Without it (a container), Debian's policy-rc.d or the
# missing runlevel usually keeps them from starting; stop any that did, by their init script.
for svc in redis-server nginx haproxy; do
  [[ -e /lib/systemd/system/$svc.service || -e /etc/init.d/$svc ]] || continue
  if [[ -d /run/systemd/system ]]; then
    if systemctl is-enabled --quiet "$svc" 2>/dev/null || systemctl is-active --quiet "$svc" 2>/dev/null; then
      echo "setup.sh: disabling the system $svc service" >&2
      systemctl disable --now --quiet "$svc"
    fi
  elif [[ -x /etc/init.d/$svc ]] && /etc/init.d/"$svc" status >/dev/null 2>&1; then
    echo "setup.sh: stopping the system $svc service" >&2
    /etc/init.d/"$svc" stop >/dev/null
  fi
done

# A JDK 22+ (find-jdk.sh installs one with apt when none is present).
source "$here/lib/find-jdk.sh"
echo "setup.sh: ok (JDK at $JAVA_HOME)" >&2
