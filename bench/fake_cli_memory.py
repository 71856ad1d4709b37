#!/usr/bin/env python3
"""The most memory sessionwheel-fake holds with its default flags.

Usage: fake_cli_memory.py PATH-TO-sessionwheel-fake [--max-services N]
                          [--max-sessions N]

Fills the tool, through its pipe as a test would, to its limits with the
largest Services and Sessions a request can make (the same as
bench/fake_memory.cc does in-process: names of 191 four-byte characters,
two Participants with every field at its bound), checks that the next
create of each is refused with 429, deletes every Session and makes them
again, and prints the tool's peak resident memory (VmHWM of
/proc/PID/status, Linux) and its resident memory at the end.
"""

import itertools
import json
import queue
import subprocess
import sys
import threading

NAME_CHARS = 191
IDENTIFIER_CHARS = 191
FRIENDLY_NAME_CHARS = 255


def long_text(chars, n):
    """`chars` four-byte characters, the last three spelling n: distinct."""
    digits = [chr(0x20000 + ((n >> shift) & 0x3FF)) for shift in (20, 10, 0)]
    return "\U0001F600" * (chars - 3) + "".join(digits)


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Tool:
    """sessionwheel-fake, written to on one thread and read on another."""

    def __init__(self, binary, flags):
        self.process = subprocess.Popen(
            [binary, *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, encoding="utf-8")
        self.answers = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            answer = json.loads(line)
            body = answer["body"] or {}
            self.answers.put({"status": answer["status"],
                              "sid": body.get("sid"),
                              "service_sid": body.get("service_sid"),
                              "text": line[:300]})

    def run(self, count, line_of):
        """Writes line_of(i) for i below count; returns the answers."""

        def write():
            for i in range(count):
                self.process.stdin.write(line_of(i) + "\n")
            self.process.stdin.flush()

        writer = threading.Thread(target=write)
        writer.start()
        answers = [self.answers.get() for _ in range(count)]
        writer.join()
        return answers


def expect(answers, status):
    for answer in answers:
        if answer["status"] != status:
            sys.exit(f"want {status}, got {answer['text']}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tool = Tool(sys.argv[1], sys.argv[2:])
    help_text = subprocess.run([sys.argv[1], "--help"], capture_output=True,
                               text=True).stdout
    limits = {line.split()[0]: line.rsplit("default: ", 1)[1].rstrip(";")
              for line in help_text.splitlines() if line.startswith("  --")}
    flags = " ".join(sys.argv[2:]).replace("=", " ").split()
    for flag, value in zip(flags, flags[1:]):
        if flag in limits:
            limits[flag] = value
    services = int(limits["--max-services"])
    sessions = int(limits["--max-sessions"])
    counter = itertools.count()

    answers = tool.run(services, lambda i: "POST /v1/Services UniqueName="
                       + long_text(NAME_CHARS, next(counter)))
    expect(answers, 201)
    kss = [a["sid"] for a in answers]
    expect(tool.run(1, lambda i: "POST /v1/Services UniqueName=one-more"), 429)

    def session_line(i):
        n = next(counter)
        person = json.dumps({
            "Identifier": long_text(IDENTIFIER_CHARS, n),
            "FriendlyName": long_text(FRIENDLY_NAME_CHARS, n),
            "ProxyIdentifier": long_text(IDENTIFIER_CHARS, n)},
            ensure_ascii=False, separators=(",", ":"))
        return (f"POST /v1/Services/{kss[i % len(kss)]}/Sessions "
                f"UniqueName={long_text(NAME_CHARS, n)}&Ttl=3600"
                f"&Participants={person}&Participants={person}")

    def fill():
        answers = tool.run(sessions, session_line)
        expect(answers, 201)
        expect(tool.run(1, lambda i: f"POST /v1/Services/{kss[0]}/Sessions"),
               429)
        return [(a["service_sid"], a["sid"]) for a in answers]

    held = fill()
    full_kib = status_kib(tool.process.pid, "VmRSS")
    expect(tool.run(len(held), lambda i: "DELETE /v1/Services/{}/Sessions/{}"
                    .format(*held[i])), 204)
    fill()
    peak_kib = status_kib(tool.process.pid, "VmHWM")
    end_kib = status_kib(tool.process.pid, "VmRSS")
    tool.process.stdin.close()
    tool.process.wait()
    print(f"{services} Services, {sessions} Sessions, every field at its "
          f"longest; the Sessions deleted and made again once")
    print(f"resident when full:   {full_kib / 1024:.1f} MiB")
    print(f"resident at the end:  {end_kib / 1024:.1f} MiB")
    print(f"peak resident memory: {peak_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
