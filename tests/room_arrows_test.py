#!/usr/bin/env python3
"""Checks the arrows between the rooms of engine/ (STYLE.md, docs/design.md).

Usage: room_arrows_test.py PATH-TO-engine

Each room may include only from the rooms it points at: fake -> core -> util,
persist -> util, core -> persist through the interface persist owns
(engine/persist/snapshot.h), and scaleout -> util (and the store's public
headers, include/sessionwheel/). An include against an arrow fails the test and
is named, file and line, so a cycle between rooms never creeps back in.
"""

import os
import re
import sys

# The rooms each room may include from, itself included.
ALLOWED = {
    "util": {"util"},
    "persist": {"persist", "util"},
    "core": {"core", "persist", "util"},
    "fake": {"fake", "core", "util"},
    # The Redis scale-out uses the store through its public headers only.
    "scaleout": {"scaleout", "util"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]engine/([A-Za-z0-9_]+)/')


def main(engine):
    wrong = []
    for room in sorted(os.listdir(engine)):
        folder = os.path.join(engine, room)
        if not os.path.isdir(folder):
            continue
        if room not in ALLOWED:
            wrong.append(f"{folder}: a room this check does not know; "
                         "add its arrows to ALLOWED")
            continue
        for dirpath, _, files in os.walk(folder):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) not in ALLOWED[room]:
                            wrong.append(f"{path}:{number}: {room} includes "
                                         f"from {m.group(1)}: {line.strip()}")
    for w in wrong:
        print(w)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
