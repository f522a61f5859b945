#!/usr/bin/env bash
# Installs the Debian 12 packages ports-engine needs to build and test.
# Idempotent: prints nothing and touches nothing when every package is present.
set -euo pipefail

packages=(
  # build
  build-essential pkg-config meson ninja-build clang-14 libfuzzer-14-dev libclang-rt-14-dev
  # libraries
  libdpdk-dev dpdk dpdk-dev libhyperscan-dev libtbb-dev libspdlog-dev libfmt-dev libyaml-cpp-dev
  libpcap-dev libssl-dev libgtest-dev libsnmp-dev nlohmann-json3-dev libsystemd-dev
  # the Debian package (debian/, tests/package/build_deb.sh) and the unit's system-call check
  debhelper lintian strace
  # test peers and tools
  snmpd snmp snmptrapd smitools ntpsec-ntpdig chrony tcpdump tshark iproute2 valgrind python3 python3-scapy python3-cryptography
  openssl ethtool iptables procps make gcc libgnutls28-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark (wireshark-common) asks whether non-root users may capture: no, and never interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts snmpd and chronyd on install; tests run their own private instances.
for svc in snmpd chrony; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
