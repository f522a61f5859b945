#!/usr/bin/env bash
# The README's second command and what CI runs: install what is missing, build the engine and
# a sanitizer build (clang, ASan+UBSan, libFuzzer targets), and run every test of both.
#   FUZZ_SECONDS=N  how long each fuzz target runs as a test (default 10)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1

# What the tests need, before anything is built: the scapy tests and the build's L2TP capture run
# under Debian's /usr/bin/python3 (python3-scapy), whatever python3 comes first on PATH.
if ! /usr/bin/python3 -c 'import scapy.all' >/dev/null 2>&1; then
    echo "test.sh: /usr/bin/python3 cannot import scapy (Debian: python3-scapy); CI runs every test" >&2
    exit 1
fi

fuzz_seconds=${FUZZ_SECONDS:-10}
# -Dtests=enabled: GoogleTest is required, so no GoogleTest suite turns into a skip here.
if [[ ! -f build/build.ninja ]]; then
    meson setup build -Dtests=enabled >/dev/null || exit 1
fi
if [[ ! -f build-asan/build.ninja ]]; then
    CXX=clang++ CXX_LD=lld meson setup build-asan -Dtests=enabled -Dfull=false -Dfuzz=true \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
meson configure build -Dtests=enabled >/dev/null || exit 1
meson configure build-asan -Dtests=enabled -Dfuzz_seconds="$fuzz_seconds" >/dev/null || exit 1
# How long each phase took, for whoever looks at CI's minutes (not a test: nothing fails on it).
t_phase=$SECONDS
took() { echo "test.sh: $1 took $((SECONDS - t_phase)) s"; t_phase=$SECONDS; }
ninja -C build || exit 1
took "ninja -C build"
ninja -C build-asan || exit 1
took "ninja -C build-asan"

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
status=0
# The end-to-end tests first, alone: ntpperf gives up on a rate once a send is ~25 ms late, so
# nothing else of this script runs beside them (not even the package build below).
rm -f build/meson-logs/testlog-e2e.*
meson test -C build --no-rebuild --print-errorlogs --suite e2e --logbase testlog-e2e || status=1
took "meson test -C build --suite e2e"
# The Debian package suite (tests/package/build_deb.sh: dpkg-buildpackage, lintian, install,
# purge) compiles the engine a second time with Debian's flags: it runs beside the other tests,
# under SCHED_IDLE (chrt --idle): it gets the CPU time they leave idle (most tests keep one
# core at most busy, waiting on engines, sockets and clients) and yields the moment a test
# wants a core. It ends within the tests or soon after them, instead of adding its whole build
# to CI's time. Its output is printed once it is done; its log is testlog-package.*, read
# below with the others.
rm -f build/meson-logs/testlog-package.*
package_out=build/meson-logs/package-suite.txt
t_package=$SECONDS
idle=(chrt --idle 0)
# (where a sandbox refuses SCHED_IDLE: the lowest nice level, nearly the same)
"${idle[@]}" true 2>/dev/null || idle=(nice -n 19)
"${idle[@]}" meson test -C build --no-rebuild --print-errorlogs --suite package \
    --logbase testlog-package >"$package_out" 2>&1 &
package_pid=$!
meson test -C build --no-rebuild --print-errorlogs --no-suite package --no-suite e2e || status=1
took "meson test -C build (the other suites but package)"
meson test -C build-asan --no-rebuild --print-errorlogs || status=1
took "meson test -C build-asan"
wait "$package_pid" || status=1
took "waiting for the package suite"
cat "$package_out"
# Where the package suite's time went (build_deb.sh's phase lines), from its start beside the tests.
grep -h '^== ' build/meson-logs/testlog-package.txt 2>/dev/null
echo "test.sh: the package suite took $((SECONDS - t_package)) s, beside the tests"

# Every test the suite has ran: what `meson test --list` names, per build, against what its
# testlog.json recorded.
for d in build build-asan; do
    meson test -C "$d" --no-rebuild --list 2>/dev/null >"$d/meson-logs/test-list.txt" || status=1
done

# One closing line over both builds.
python3 - <<'PY' || status=1
import json
import re
import sys
passed = failed = skipped = 0
missing = []
# unittest cases that skipped inside a python test that passed: tests/integration/common.py's
# run_tests prints one 'skipped case: ID: REASON' line each.
py_skipped = []
# Each build's test logs: build's e2e and package suites ran on their own (--logbase).
logbases = {"build": ("testlog-e2e", "testlog", "testlog-package"), "build-asan": ("testlog",)}
for d in ("build", "build-asan"):
    names = []
    for base in logbases[d]:
        try:
            with open(f"{d}/meson-logs/{base}.json") as f:
                for line in f:
                    entry = json.loads(line)
                    names.append(entry["name"])
                    r = entry["result"]
                    if r in ("OK", "EXPECTEDFAIL"):
                        passed += 1
                        output = (entry.get("stdout") or "") + "\n" + (entry.get("stderr") or "")
                        for m in re.finditer(r"^skipped case: (.*)$", output, re.M):
                            py_skipped.append(f"{d}: {entry['name']}: {m.group(1)}")
                    elif r == "SKIP":
                        skipped += 1
                    else:
                        failed += 1
        except FileNotFoundError:
            pass
    try:
        with open(f"{d}/meson-logs/test-list.txt") as f:
            listed = [l.strip() for l in f if l.strip()]
    except FileNotFoundError:
        listed = []
    # Both name a test "project:suite / name".
    ran = set(names)
    absent = [t for t in listed if t not in ran]
    if not listed:
        missing.append((f"{d}: `meson test --list` listed no test", 1))
    elif absent or len(names) < len(listed):
        missing.append((f"{d}: {len(names)} of {len(listed)} tests ran; missing: " +
                        (", ".join(absent) or "(none by name)"),
                        max(len(absent), len(listed) - len(names))))
# GoogleTest cases that skipped inside a test that passed (GTEST_SKIP: no ::1, a file limit
# that cannot be raised...): meson records them in its JUnit log for protocol 'gtest' tests.
import xml.etree.ElementTree as ET
cases_skipped = []
for d in ("build", "build-asan"):
    for base in logbases[d]:
        try:
            for case in ET.parse(f"{d}/meson-logs/{base}.junit.xml").iter("testcase"):
                # Whole tests are meson's own testcases (classname: the project), counted above.
                if case.find("skipped") is not None and case.get("classname") not in (None, "ports-engine"):
                    cases_skipped.append(f"{d}: {case.get('classname')}.{case.get('name')}")
        except (FileNotFoundError, ET.ParseError):
            pass
for c in cases_skipped:
    print(f"skipped GoogleTest case: {c}")
for c in py_skipped:
    print(f"skipped unittest case: {c}")
inside = []
if cases_skipped:
    inside.append(f"{len(cases_skipped)} GoogleTest")
if py_skipped:
    inside.append(f"{len(py_skipped)} unittest")
extra = f" ({' and '.join(inside)} cases skipped inside them)" if inside else ""
# A test that did not run counts as failed.
for m, n in missing:
    print(f"test.sh: not every test ran: {m}")
    failed += n
print(f"{passed} passed{extra}, {failed} failed, {skipped} skipped")
sys.exit(1 if missing else 0)
PY
exit $status
