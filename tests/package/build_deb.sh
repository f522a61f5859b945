#!/usr/bin/env bash
# The Debian package as a user gets it: `dpkg-buildpackage -us -uc -b` in a scratch copy of
# the source tree, lintian on the .deb (when installed), `apt-get install ./ports-engine_*.deb`,
# its files checked and its unit not enabled, then `apt-get purge` and nothing of it left.
# The meson test 'deb' (suite package): CI runs it on every change, beside the other tests
# (scripts/test.sh, at idle CPU priority); `meson test -C build --suite package` runs it alone.
#
# usage: build_deb.sh SOURCE_ROOT [OUT_DIR]   (OUT_DIR keeps the .deb; default: none kept)
# Needs root (it installs and purges the package) and dpkg-dev + debhelper; exits 77 (skip)
# without them, or when ports-engine is already installed here (it would purge it).
set -euo pipefail

src=$(cd "$1" && pwd)
out=${2:-}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
t0=$SECONDS
phase() { echo "== $* (at $((SECONDS - t0)) s)"; }

[[ $(id -u) -eq 0 ]] || skip "not root: the test installs and purges the package"
command -v dpkg-buildpackage >/dev/null || skip "no dpkg-buildpackage (Debian: dpkg-dev)"
command -v dh >/dev/null || skip "no dh (Debian: debhelper; scripts/install-deps.sh installs it)"
if dpkg-query -W -f='${Status}' ports-engine 2>/dev/null | grep -q 'ok installed'; then
  skip "ports-engine is installed on this machine: this test would purge it"
fi

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
# A fixed scratch path, so that ccache finds its objects again (Debian's flags carry the build
# path: -ffile-prefix-map).
scratch=/var/tmp/ports-engine-deb
rm -rf "$scratch"
mkdir -p "$scratch/ports-engine-$version"
trap 'rm -rf "$scratch"' EXIT

phase "copying the source tree (tracked and untracked files, not what git ignores)"
if git -C "$src" rev-parse --show-toplevel >/dev/null 2>&1; then
  # (a tracked file deleted in the work tree is listed too: left out)
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
    xargs -0 cp -a --parents -t "$scratch/ports-engine-$version")
else
  tar -C "$src" --exclude='./build*' -cf - . | tar -C "$scratch/ports-engine-$version" -xf -
fi
[[ -f $scratch/ports-engine-$version/debian/rules ]] || fail "no debian/rules in the copy"

# debhelper 13 points HOME at a scratch directory, which would give ccache an empty cache at
# every build: keep the caller's.
if command -v ccache >/dev/null; then
  CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)}
  export CCACHE_DIR
fi
phase "dpkg-buildpackage -us -uc -b"
# nocheck: the tests run from the source tree (this suite's siblings), not in the package build;
# noddebs: no -dbgsym package. DEB_CXXFLAGS_APPEND=-g0 (dpkg-buildflags appends it to
# Debian's "-g -O2 ..."): the debug information is built only for dh_strip to strip it again,
# and GCC's code does not depend on -g, so the binaries shipped are the same bytes (stripped,
# build IDs aside: compared 2026-12-07) for 28% less compile time (194 vs 268 CPU seconds).
# What is built, installed and lintian-checked is otherwise exactly a user's build.
(cd "$scratch/ports-engine-$version" &&
  DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(nproc)" DEB_CXXFLAGS_APPEND=-g0 \
    dpkg-buildpackage -us -uc -b) \
  >"$scratch/build.log" 2>&1 || { tail -50 "$scratch/build.log"; fail "dpkg-buildpackage failed"; }
deb=$(ls "$scratch"/ports-engine_"$version"_*.deb)
echo "$deb"
if [[ -n $out ]]; then
  mkdir -p "$out"
  cp "$deb" "$out/"
fi

if command -v lintian >/dev/null; then
  phase "lintian"
  # Every tag that stays is explained in debian/ports-engine.lintian-overrides or README.
  lintian --fail-on error,warning --display-info "$deb" || fail "lintian found errors or warnings"
else
  echo "lintian: not installed, not run (Debian: lintian)"
fi

phase "apt-get install ./$(basename "$deb")"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "$deb" >/dev/null || fail "apt-get install failed"
trap 'apt-get purge -y -qq ports-engine >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT

for f in /usr/sbin/ports-engine /usr/bin/ports-analyze /lib/systemd/system/ports-engine.service \
         /usr/libexec/ports-engine/ports-engine-prepare /etc/default/ports-engine \
         /usr/share/snmp/mibs/PORTS-ENGINE-MIB.txt /usr/share/man/man8/ports-engine.8.gz \
         /usr/share/man/man1/ports-analyze.1.gz /usr/share/doc/ports-engine/copyright \
         /usr/share/doc/ports-engine/examples/README.md \
         /usr/share/doc/ports-engine/examples/monitor-nic.yaml; do
  [[ -e $f ]] || fail "$f: not installed"
done
[[ -d /etc/ports-engine ]] || fail "/etc/ports-engine: not created"
[[ $(/usr/sbin/ports-engine --version) == "ports-engine ${version%%-*}" ]] || fail "--version"
/usr/sbin/ports-engine --check-config /usr/share/doc/ports-engine/examples/inline-bump.yaml \
  || fail "an installed example does not check out"
# Shipped disabled: no wants link, whether or not systemd runs here.
[[ ! -e /etc/systemd/system/multi-user.target.wants/ports-engine.service ]] ||
  fail "the unit was enabled at install"
if [[ -d /run/systemd/system ]]; then
  state=$(systemctl is-enabled ports-engine.service || true)
  [[ $state == disabled ]] || fail "systemctl is-enabled: $state, not disabled"
  active=$(systemctl is-active ports-engine.service || true)
  [[ $active == inactive ]] || fail "systemctl is-active: $active, not inactive"
else
  echo "systemd is not running here: systemctl is-enabled not asked (the wants link was checked)"
fi

phase "apt-get purge ports-engine"
apt-get purge -y -qq ports-engine >/dev/null || fail "apt-get purge failed"
trap 'rm -rf "$scratch"' EXIT
if dpkg-query -W -f='${Status}' ports-engine 2>/dev/null | grep -q 'installed'; then
  fail "still installed after purge: $(dpkg-query -W -f='${Status}' ports-engine)"
fi
for f in /usr/sbin/ports-engine /usr/bin/ports-analyze /lib/systemd/system/ports-engine.service \
         /usr/libexec/ports-engine /etc/default/ports-engine /etc/ports-engine \
         /usr/share/snmp/mibs/PORTS-ENGINE-MIB.txt /usr/share/doc/ports-engine; do
  [[ ! -e $f ]] || fail "$f: left after purge"
done
phase "done"
