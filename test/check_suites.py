#!/usr/bin/python3
"""Every top-level suite of the unit test binary has its ctest entry (a suite without one would
never run, and nothing would say so), and every entry names a suite that exists.

Usage: check_suites.py UNIT_TEST_BINARY SUITE...
"""
import subprocess
import sys

binary, registered = sys.argv[1], set(sys.argv[2:])
listing = subprocess.run([binary, "--list_content"], capture_output=True, text=True, check=True)
# Boost.Test lists to stderr: suites at column 0, their cases indented; a '*' marks enabled ones.
text = listing.stderr + listing.stdout
present = {line.rstrip().rstrip("*") for line in text.splitlines() if line and not line[0].isspace()}
missing, unknown = sorted(present - registered), sorted(registered - present)
for s in missing:
    print(f"suite {s} has no ctest entry: add it to test/CMakeLists.txt")
for s in unknown:
    print(f"ctest entry unit.{s} names no suite")
print(f"{len(present)} suites, each with its ctest entry" if not (missing or unknown) else "suites and entries differ")
sys.exit(1 if missing or unknown else 0)
