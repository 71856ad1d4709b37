#!/usr/bin/env python3
"""Drives sessionwheel-fake from Python: a Session's TTL passes, and it closes.

Usage: fake_client.py [PATH-TO-sessionwheel-fake]
(default: $SESSIONWHEEL_FAKE, else sessionwheel-fake on the PATH)
"""

import json
import os
import subprocess
import sys
import urllib.parse


class FakeProxy:
    """One sessionwheel-fake process: write a command line, read its answer."""

    def __init__(self, binary, *flags):
        self._process = subprocess.Popen(
            [binary, *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, encoding="utf-8")

    def _command(self, line):
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        return json.loads(self._process.stdout.readline())

    def send(self, method, target, form=None):
        """A request; returns {"status": 201, "body": {...} or None}."""
        line = f"{method} {target}"
        if form:
            line += " " + urllib.parse.urlencode(form)
        return self._command(line)

    def set_time(self, iso_time):
        return self._command(f"now {iso_time}")["now"]

    def advance(self, seconds):
        return self._command(f"advance {seconds}s")["now"]

    def close(self):
        """Ends the input; returns the exit code (0)."""
        self._process.stdin.close()
        return self._process.wait()


def main():
    binary = (sys.argv[1] if len(sys.argv) > 1
              else os.environ.get("SESSIONWHEEL_FAKE", "sessionwheel-fake"))
    fake = FakeProxy(binary, "--seed", "7")
    print("clock:", fake.set_time("2030-01-01T00:00:00Z"))

    service = fake.send("POST", "/v1/Services", {"UniqueName": "rides"})
    sessions = f"/v1/Services/{service['body']['sid']}/Sessions"
    created = fake.send("POST", sessions,
                        {"UniqueName": "Order #1234", "Ttl": 60})
    print("created:", created["status"], created["body"]["status"])
    assert created["status"] == 201

    print("clock:", fake.advance(61))
    name = urllib.parse.quote("Order #1234", safe="")
    got = fake.send("GET", f"{sessions}/{name}")
    session = got["body"]
    print("fetched:", got["status"], session["status"],
          session["closed_reason"], session["date_ended"])
    assert session["status"] == "closed"
    assert session["closed_reason"] == "ttl"
    assert session["date_ended"] == "2030-01-01T00:01:00Z"

    assert fake.close() == 0


if __name__ == "__main__":
    main()
