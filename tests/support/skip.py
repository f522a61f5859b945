"""Stands in for a test that cannot be built here: prints why, exits 77 (meson: SKIP).

Usage: skip.py REASON..."""
import sys

print("SKIP: " + " ".join(sys.argv[1:]))
sys.exit(77)
