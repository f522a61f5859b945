#!/usr/bin/env bash
# The README's second command and what CI runs: install what is missing, build the engine and
# a sanitizer build (clang, ASan+UBSan, libFuzzer targets), and run every test of both.
#   FUZZ_SECONDS=N  how long each fuzz target runs as a test (default 10)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1

fuzz_seconds=${FUZZ_SECONDS:-10}
if [[ ! -f build/build.ninja ]]; then
    meson setup build >/dev/null || exit 1
fi
if [[ ! -f build-asan/build.ninja ]]; then
    CXX=clang++ CXX_LD=lld meson setup build-asan -Dfull=false -Dfuzz=true \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
meson configure build-asan -Dfuzz_seconds="$fuzz_seconds" >/dev/null || exit 1
ninja -C build || exit 1
ninja -C build-asan || exit 1

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
status=0
meson test -C build --no-rebuild --print-errorlogs || status=1
meson test -C build-asan --no-rebuild --print-errorlogs || status=1

# One closing line over both builds.
python3 - <<'PY'
import json
passed = failed = skipped = 0
for d in ("build", "build-asan"):
    try:
        with open(f"{d}/meson-logs/testlog.json") as f:
            for line in f:
                r = json.loads(line)["result"]
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        failed += 1
# GoogleTest cases that skipped inside a test that passed (GTEST_SKIP: no ::1, a file limit
# that cannot be raised...): meson records them in its JUnit log for protocol 'gtest' tests.
import xml.etree.ElementTree as ET
cases_skipped = []
for d in ("build", "build-asan"):
    try:
        for case in ET.parse(f"{d}/meson-logs/testlog.junit.xml").iter("testcase"):
            # Whole tests are meson's own testcases (classname: the project), counted above.
            if case.find("skipped") is not None and case.get("classname") not in (None, "ports-engine"):
                cases_skipped.append(f"{d}: {case.get('classname')}.{case.get('name')}")
    except (FileNotFoundError, ET.ParseError):
        pass
for c in cases_skipped:
    print(f"skipped GoogleTest case: {c}")
extra = f" ({len(cases_skipped)} GoogleTest cases skipped inside them)" if cases_skipped else ""
print(f"{passed} passed{extra}, {failed} failed, {skipped} skipped")
PY
exit $status
