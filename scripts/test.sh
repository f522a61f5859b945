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
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
