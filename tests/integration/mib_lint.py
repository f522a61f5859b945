"""smilint -l 3 on PORTS-ENGINE-MIB: no error or warning at level 3.

Usage: mib_lint.py MIB_FILE MIB_DIR..."""
import os
import shutil
import subprocess
import sys

if __name__ == "__main__":
    if shutil.which("smilint") is None:
        print("skipped: smilint (package smitools) is not installed")
        sys.exit(77)
    mib, dirs = sys.argv[1], sys.argv[2:]
    env = dict(os.environ, SMIPATH=":".join([os.path.dirname(os.path.abspath(mib))] + dirs))
    p = subprocess.run(["smilint", "-l", "3", mib], capture_output=True, text=True, env=env)
    report = (p.stdout + p.stderr).strip()
    print(report or "smilint -l 3: clean")
    # smilint exits 0 on warnings: any line it prints is a finding.
    sys.exit(1 if p.returncode != 0 or report else 0)
