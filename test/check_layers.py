#!/usr/bin/python3
"""Who may include whom (issue 12): each part's headers and sources include smtpcheck headers
of the parts listed for it and of no other, so the layers stay straight. Prints every
include that breaks the rule and exits 1 if there is one.

    core           nothing but itself: base64, ASCII, printable text, random octets, files
    serialization  core, and smtp for the report it maps (smtp/report.hpp)
    smtp, auth     core
    store          core (Redis: the state several instances share)
    server         everything

Usage: check_layers.py [SOURCE_ROOT]   (default: the tree this script is in)
"""
import pathlib
import re
import sys

ALLOWED = {
    "core": {"core"},
    "serialization": {"core", "serialization", "smtp"},
    "smtp": {"core", "smtp"},
    "auth": {"core", "auth"},
    "store": {"core", "store"},
    "server": {"core", "serialization", "smtp", "auth", "store", "server"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]smtpcheck/([a-z_]+)/', re.M)

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
broken = 0
for part, allowed in ALLOWED.items():
    for path in sorted((root / part).rglob("*")):
        if path.suffix not in (".hpp", ".cpp", ".h", ".ipp"):
            continue
        text = path.read_text(errors="replace")
        for m in INCLUDE.finditer(text):
            if m.group(1) not in allowed:
                line = text.count("\n", 0, m.start()) + 1
                print(f"{path.relative_to(root)}:{line}: {part} includes smtpcheck/{m.group(1)}/")
                broken += 1
print(f"{broken} include(s) across the layers" if broken else "layers: every include goes down")
sys.exit(1 if broken else 0)
