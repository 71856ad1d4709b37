"""One sessionwheel-fake process behind a pipe.

The tool reads one command a line on its standard input and answers each
with one JSON line (docs/testing-with-the-fake.md, "The command-line tool"):
`METHOD TARGET [FORM-BODY]` answers `{"status": ..., "body": ...}`, `now
[DATE-TIME]` and `advance N(ms|s|m|h)` answer `{"now": ...}`. This module
needs nothing but the standard library, so it also serves a test that talks
to the fake without an SDK.

Example:

    with FakeProcess(seed=7, start_time="2030-01-01T00:00:00Z") as fake:
        status, service = fake.request("POST", "/v1/Services",
                                       "UniqueName=rides")
        fake.advance(datetime.timedelta(hours=1))
"""

import datetime
import json
import os
import shutil
import subprocess
import threading
import weakref

ENV_VAR = "SESSIONWHEEL_FAKE"
BINARY_NAME = "sessionwheel-fake"

# A limit argument that lifts the limit (the tool's `none`).
NO_LIMIT = "none"

_UTC = datetime.timezone.utc
_ANSWER_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _installed_binary():
    """The tool installed with this package by `cmake --install`, if any."""
    try:
        from . import _installed  # written by the install step only
    except ImportError:
        return None
    return os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), _installed.BINDIR,
        BINARY_NAME))


def find_binary(binary=None):
    """The path of sessionwheel-fake to run.

    In order: `binary` (a path, or a name looked up on the PATH), then
    $SESSIONWHEEL_FAKE, then the tool installed next to this package, then
    sessionwheel-fake on the PATH. A tool named by the argument or the
    variable must be there: falling back to another would hide the mistake.
    Raises FileNotFoundError saying where it looked.
    """
    for origin, named in (("the argument", binary),
                          ("$" + ENV_VAR, os.environ.get(ENV_VAR))):
        if named:
            found = shutil.which(named)
            if not found:
                raise FileNotFoundError(
                    f"{BINARY_NAME} not found: {named!r}, from {origin}, is "
                    "not an executable file")
            return found
    installed = _installed_binary()
    if installed and shutil.which(installed):
        return installed
    found = shutil.which(BINARY_NAME)
    if found:
        return found
    raise FileNotFoundError(
        f"{BINARY_NAME} not found: no argument, no ${ENV_VAR}, "
        f"{'not at ' + installed if installed else 'no install'}, and not on "
        f"the PATH. Pass its path, set ${ENV_VAR}, or put it on the PATH.")


def _limit_flag(name, value):
    if value is None:
        return []
    if value != NO_LIMIT and (not isinstance(value, int) or value < 0):
        raise ValueError(f"{name} must be a whole number >= 0 or NO_LIMIT, "
                         f"not {value!r}")
    return [f"--{name.replace('_', '-')}={value}"]


def format_time(when):
    """`when` as the tool's `now` takes it: a datetime (naive is UTC, as the
    Twilio SDKs read it), a date (its midnight UTC), or a string as it is."""
    if isinstance(when, str):
        return when
    if isinstance(when, datetime.datetime):
        if when.tzinfo is not None:
            when = when.astimezone(_UTC)
        text = when.strftime("%Y-%m-%dT%H:%M:%S")
        if when.microsecond:
            text += f".{when.microsecond:06d}"
        return text + "Z"
    if isinstance(when, datetime.date):
        return when.strftime("%Y-%m-%d")
    raise TypeError(f"a datetime, date or string, not {when!r}")


def format_duration(by):
    """`by` as the tool's `advance` takes it: a timedelta or a number of
    seconds, whole milliseconds, not negative; or a string such as "90s"."""
    if isinstance(by, str):
        return by
    if isinstance(by, (int, float)) and not isinstance(by, bool):
        by = datetime.timedelta(seconds=by)
    if not isinstance(by, datetime.timedelta):
        raise TypeError(f"a timedelta, seconds or a string, not {by!r}")
    micros = (by.days * 86400 + by.seconds) * 1000000 + by.microseconds
    if micros < 0 or micros % 1000:
        raise ValueError(
            f"the clock moves forward by whole milliseconds, not {by!r} "
            "(use now() to set it back)")
    return f"{micros // 1000}ms"


def _parse_now(answer, command):
    if "now" not in answer:
        raise ValueError(f"{command!r}: {answer['body']['message']}")
    return datetime.datetime.strptime(answer["now"],
                                      _ANSWER_TIME).replace(tzinfo=_UTC)


def _stop(process):
    """Ends the tool's input and waits for it; returns its exit code."""
    if process.poll() is None:
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


class FakeProcess:
    """A running sessionwheel-fake: one fake, its store and its clock.

    Safe to use from several threads: a command and its answer are one
    exchange under a lock. Stop it with close() or a `with` block; one left
    open is stopped when it is collected or at exit.
    """

    def __init__(self, binary=None, *, seed=None, start_time=None,
                 auto_services=False, retention=None, max_sessions=None,
                 max_sessions_per_service=None, max_services=None, args=()):
        """Starts the tool (found by find_binary(binary)) with the flags the
        arguments name; None leaves the tool's default. `start_time` sets the
        clock before anything else (default: the system time, as the tool
        starts); `args` are further flags as they are."""
        argv = [find_binary(binary)]
        if seed is not None:
            argv.append(f"--seed={int(seed)}")
        if auto_services:
            argv.append("--auto-services")
        if retention is not None:
            argv.append(f"--retention={int(retention)}")
        argv += _limit_flag("max_sessions", max_sessions)
        argv += _limit_flag("max_sessions_per_service",
                            max_sessions_per_service)
        argv += _limit_flag("max_services", max_services)
        argv += list(args)
        self.argv = argv
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            encoding="utf-8")
        self._finalizer = weakref.finalize(self, _stop, self._process)
        if start_time is not None:
            self.now(start_time)

    def command(self, line):
        """Sends one command line; returns its answer, parsed.

        ValueError for more than one line, or for a line the tool gives no
        answer to (blank, or a '#' comment)."""
        if "\n" in line or "\r" in line:
            raise ValueError(f"a command is one line: {line!r}")
        # The tool skips these without a word: sent, the readline below
        # would wait for ever, holding the lock.
        words = line.strip(" \t")
        if not words or words.startswith("#"):
            raise ValueError(
                f"a blank line or a '#' comment gets no answer from "
                f"{BINARY_NAME}: {line!r}")
        with self._lock:
            if not self._finalizer.alive:
                raise RuntimeError(f"{BINARY_NAME} was closed")
            try:
                self._process.stdin.write(line + "\n")
                self._process.stdin.flush()
                answer = self._process.stdout.readline()
            except BrokenPipeError:
                answer = ""
            if not answer:
                raise RuntimeError(
                    f"{BINARY_NAME} ended (exit code {self._process.wait()}) "
                    f"without answering {line!r}")
        return json.loads(answer)

    def request(self, method, target, body=""):
        """One request: `target` a path and query or a full URL, encoded;
        `body` form-encoded. Returns (status, the parsed JSON body or None)."""
        if not target or any(c.isspace() for c in target):
            raise ValueError(f"a target is one word: {target!r}")
        line = f"{method} {target}"
        if body:
            line += " " + body
        answer = self.command(line)
        return answer["status"], answer["body"]

    def now(self, when=None):
        """Reads the clock, or first sets it to `when` (earlier too), running
        what came due. Returns the time as an aware UTC datetime, to the
        second."""
        line = "now" if when is None else "now " + format_time(when)
        return _parse_now(self.command(line), line)

    def advance(self, by):
        """Moves the clock forward by `by` (a timedelta, seconds, or "90s"),
        running the expiries and purges that came due; returns now()."""
        line = "advance " + format_duration(by)
        return _parse_now(self.command(line), line)

    def close(self):
        """Stops the tool; returns its exit code (0). Closing twice is
        harmless."""
        with self._lock:
            self._finalizer()
        return self._process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
