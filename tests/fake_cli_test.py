#!/usr/bin/env python3
"""Tests of sessionwheel-fake, the Proxy fake behind a pipe.

Usage: fake_cli_test.py PATH-TO-sessionwheel-fake [unittest arguments]
(or set SESSIONWHEEL_FAKE and give no path)

Every exchange is interactive: write one line, then read one line, with a
timeout. So an answer that is not flushed at once, or a line that is answered
when it should not be, fails a test instead of passing by luck.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import unittest

BINARY = os.environ.get("SESSIONWHEEL_FAKE", "sessionwheel-fake")
TIMEOUT_SECONDS = 10
NAME = "Order #1234"
NAME_IN_FORM = "Order%20%231234"
NAME_IN_PATH = "Order%20%231234"


class Fake:
    """A running sessionwheel-fake with a reader thread on its stdout."""

    def __init__(self, *flags):
        self.process = subprocess.Popen(
            [BINARY, *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)  # EOF

    def write(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def read_line(self):
        """The next answer line as written; fails if none comes in time."""
        try:
            line = self._lines.get(timeout=TIMEOUT_SECONDS)
        except queue.Empty:
            raise AssertionError("no answer within %ds" % TIMEOUT_SECONDS)
        if line is None:
            raise AssertionError("the fake closed its output")
        return line

    def read(self):
        return json.loads(self.read_line())

    def ask(self, line):
        self.write(line)
        return self.read()

    def no_more_output(self):
        """True if nothing more is written before EOF."""
        return self._lines.get(timeout=TIMEOUT_SECONDS) is None

    def close(self):
        """Closes stdin; returns the exit code."""
        self.process.stdin.close()
        return self.process.wait(timeout=TIMEOUT_SECONDS)

    def kill(self):
        """Stops the process if it still runs, and closes the pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=TIMEOUT_SECONDS)  # it has seen EOF
        for pipe in (self.process.stdin, self.process.stdout,
                     self.process.stderr):
            pipe.close()


class FakeCliTest(unittest.TestCase):

    def setUp(self):
        self.fake = self.start("--seed", "7")

    def start(self, *flags):
        """A new fake, stopped at the end of the test if still running."""
        fake = Fake(*flags)
        self.addCleanup(fake.kill)
        return fake

    def assert_bad_line(self, answer, part):
        self.assertEqual(answer["status"], 400, answer)
        body = answer["body"]
        self.assertEqual(set(body), {"code", "message", "more_info", "status"})
        self.assertEqual(body["code"], 80701)
        self.assertEqual(body["status"], 400)
        self.assertEqual(body["more_info"],
                         "https://www.twilio.com/docs/errors/80701")
        self.assertTrue(body["message"].startswith(f"'{part}' is invalid. "),
                        body["message"])

    def create_service(self, name="rides"):
        answer = self.fake.ask(f"POST /v1/Services UniqueName={name}")
        self.assertEqual(answer["status"], 201, answer)
        return answer["body"]["sid"]

    def test_ttl_expiry_is_seen_through_get(self):
        self.assertEqual(self.fake.ask("now 2030-01-01T00:00:00Z"),
                         {"now": "2030-01-01T00:00:00Z"})
        sessions = f"/v1/Services/{self.create_service()}/Sessions"

        created = self.fake.ask(
            f"POST {sessions} UniqueName={NAME_IN_FORM}&Ttl=60")
        self.assertEqual(created["status"], 201, created)
        self.assertEqual(created["body"]["unique_name"], NAME)
        self.assertEqual(created["body"]["ttl"], 60)
        self.assertEqual(created["body"]["date_created"],
                         "2030-01-01T00:00:00Z")

        got = self.fake.ask(f"GET {sessions}/{NAME_IN_PATH}")
        self.assertEqual(got["status"], 200, got)
        self.assertEqual(got["body"]["sid"], created["body"]["sid"])
        self.assertEqual(got["body"]["status"], "open")
        self.assertIsNone(got["body"]["closed_reason"])

        self.assertEqual(self.fake.ask("advance 61s"),
                         {"now": "2030-01-01T00:01:01Z"})
        got = self.fake.ask(f"GET {sessions}/{NAME_IN_PATH}")
        self.assertEqual(got["status"], 200, got)
        self.assertEqual(got["body"]["status"], "closed")
        self.assertEqual(got["body"]["closed_reason"], "ttl")
        self.assertEqual(got["body"]["date_ended"], "2030-01-01T00:01:00Z")
        self.assertEqual(self.fake.close(), 0)

    def test_form_body_plus_is_a_space(self):
        self.fake.ask("now 2030-01-01T00:00:00Z")
        sessions = f"/v1/Services/{self.create_service()}/Sessions"
        created = self.fake.ask(f"POST {sessions} UniqueName=Order+%231234")
        self.assertEqual(created["body"]["unique_name"], NAME, created)

    def test_comments_and_blank_lines_get_no_answer(self):
        for line in ["# a comment", "", "   ", "\t# indented comment", "#"]:
            self.fake.write(line)
        # The next answer is the one for this line, not for the lines above.
        self.assertEqual(self.fake.ask("now 2030-01-01T00:00:00Z"),
                         {"now": "2030-01-01T00:00:00Z"})
        self.fake.write("# one more")
        self.assertEqual(self.fake.close(), 0)
        self.assertTrue(self.fake.no_more_output())

    def test_lines_it_cannot_read_get_400_and_it_carries_on(self):
        self.fake.ask("now 2030-01-01T00:00:00Z")
        cases = [
            ("hello", "Target"),
            ("GET", "Target"),
            ("{} /v1/Services", "Method"),
            ("G3T /v1/Services", "Method"),
            ("now yesterday", "now"),
            ("now 2030-01-01", None),  # a bare date is midnight UTC: fine
            ("now 2030-13-01T00:00:00Z", "now"),
            ("now 2030-01-01T00:00:00Z trailing", "now"),
            ("now 10000-01-01T00:00:00Z", "now"),
            ("advance", "advance"),
            ("advance 5", "advance"),
            ("advance -5s", "advance"),
            ("advance 5 s", "advance"),
            ("advance 5d", "advance"),
            ("advance 1.5s", "advance"),
            ("advance 9999999999999999999s", "advance"),
            ("advance 999999999999h", "advance"),
        ]
        for line, part in cases:
            with self.subTest(line=line):
                answer = self.fake.ask(line)
                if part is None:
                    self.assertEqual(answer, {"now": "2030-01-01T00:00:00Z"})
                else:
                    self.assert_bad_line(answer, part)
        # Still answering, and the clock did not move.
        self.assertEqual(self.fake.ask("now"), {"now": "2030-01-01T00:00:00Z"})
        self.assertEqual(self.create_service()[:2], "KS")

    def test_clock_commands(self):
        self.assertEqual(self.fake.ask("now 2030-06-30T23:59:59+02:00"),
                         {"now": "2030-06-30T21:59:59Z"})
        self.assertEqual(self.fake.ask("advance 1500ms"),
                         {"now": "2030-06-30T22:00:00Z"})
        self.assertEqual(self.fake.ask("advance 2m"),
                         {"now": "2030-06-30T22:02:00Z"})
        self.assertEqual(self.fake.ask("advance 2h"),
                         {"now": "2030-07-01T00:02:00Z"})
        self.assertEqual(self.fake.ask("advance 0s"),
                         {"now": "2030-07-01T00:02:00Z"})
        self.assertEqual(self.fake.ask("now 2029-01-01T00:00:00Z"),
                         {"now": "2029-01-01T00:00:00Z"})  # back in time
        self.assertEqual(self.fake.ask("now"), {"now": "2029-01-01T00:00:00Z"})
        self.assertEqual(self.fake.ask("  now  \r"),
                         {"now": "2029-01-01T00:00:00Z"})

    def test_delete_is_204_with_null_body(self):
        sessions = f"/v1/Services/{self.create_service()}/Sessions"
        created = self.fake.ask(f"POST {sessions} UniqueName=x")
        self.assertEqual(created["status"], 201, created)
        sid = created["body"]["sid"]
        self.assertEqual(self.fake.ask(f"DELETE {sessions}/{sid}"),
                         {"status": 204, "body": None})
        gone = self.fake.ask(f"GET {sessions}/{sid}")
        self.assertEqual(gone["status"], 404, gone)
        self.assertEqual(gone["body"]["code"], 20404)

    def test_unknown_route_is_20404(self):
        answer = self.fake.ask("GET /v1/Nothing/Here")
        self.assertEqual(answer["status"], 404, answer)
        self.assertEqual(set(answer["body"]),
                         {"code", "message", "more_info", "status"})
        self.assertEqual(answer["body"]["code"], 20404)
        self.assertEqual(answer["body"]["status"], 404)

    def test_method_in_any_case_and_wrong_method(self):
        self.assertEqual(self.fake.ask("get /v1/Services")["status"], 200)
        answer = self.fake.ask("PUT /v1/Services")
        self.assertEqual(answer["status"], 405, answer)
        self.assertEqual(set(answer["body"]),
                         {"code", "message", "more_info", "status"})

    def test_answers_are_one_compact_line_in_field_order(self):
        self.fake.write("now 2030-01-01T00:00:00Z")
        self.fake.read()
        self.fake.write("POST /v1/Services UniqueName=rides")
        line = self.fake.read_line()
        self.assertTrue(line.startswith('{"status":201,"body":{"sid":"KS'),
                        line)
        self.assertTrue(line.endswith("}\n"))
        self.assertEqual(line.count("\n"), 1)

    def test_same_seed_same_sids(self):
        first = self.create_service()
        self.assertEqual(self.fake.close(), 0)
        self.fake = self.start("--seed", "7")
        self.assertEqual(self.create_service(), first)
        self.fake = self.start("--seed=8")
        self.assertNotEqual(self.create_service(), first)

    def test_base_flag(self):
        self.fake = self.start("--base", "http://localhost:9999")
        sessions = f"/v1/Services/{self.create_service()}/Sessions"
        created = self.fake.ask(f"POST {sessions} UniqueName=x")
        self.assertTrue(created["body"]["url"].startswith(
            "http://localhost:9999/v1/Services/"), created)
        # A full URL under the base is a target too.
        got = self.fake.ask(f"GET {created['body']['url']}")
        self.assertEqual(got["status"], 200, got)

    def test_auto_services_flag(self):
        ks = "KS" + "0123456789abcdef" * 2
        self.assertEqual(
            self.fake.ask(f"GET /v1/Services/{ks}/Sessions")["status"], 404)
        self.fake = self.start("--auto-services")
        answer = self.fake.ask(f"GET /v1/Services/{ks}/Sessions")
        self.assertEqual(answer["status"], 200, answer)
        self.assertEqual(answer["body"]["sessions"], [])

    def test_retention_flag(self):
        self.fake = self.start("--retention", "60")
        self.fake.ask("now 2030-01-01T00:00:00Z")
        sessions = f"/v1/Services/{self.create_service()}/Sessions"
        created = self.fake.ask(f"POST {sessions} UniqueName=x&Ttl=10")
        self.assertEqual(created["status"], 201, created)
        self.fake.ask("advance 11s")
        got = self.fake.ask(f"GET {sessions}/x")
        self.assertEqual(got["body"]["status"], "closed", got)
        self.fake.ask("advance 60s")  # 60 s after it ended: purged
        got = self.fake.ask(f"GET {sessions}/x")
        self.assertEqual(got["status"], 404, got)
        self.assertEqual(got["body"]["code"], 20404)

    def test_max_sessions_flags(self):
        self.fake = self.start("--max-sessions", "2",
                               "--max-sessions-per-service=1")
        one = f"/v1/Services/{self.create_service('one')}/Sessions"
        two = f"/v1/Services/{self.create_service('two')}/Sessions"
        self.assertEqual(self.fake.ask(f"POST {one}")["status"], 201)
        refused = self.fake.ask(f"POST {one}")
        self.assertEqual(refused["status"], 429, refused)
        self.assertEqual(refused["body"]["code"], 20429)
        self.assertEqual(self.fake.ask(f"POST {two}")["status"], 201)
        three = f"/v1/Services/{self.create_service('three')}/Sessions"
        refused = self.fake.ask(f"POST {three}")
        self.assertEqual(refused["status"], 429, refused)
        self.assertIn("the store holds its maximum of 2",
                      refused["body"]["message"])

    def test_participant_and_message_routes(self):
        self.fake.ask("now 2030-01-01T00:00:00Z")
        sessions = f"/v1/Services/{self.create_service()}/Sessions"
        session = self.fake.ask(f"POST {sessions} Ttl=60")["body"]
        participants = session["links"]["participants"]
        added = self.fake.ask(
            f"POST {participants} Identifier=%2B15550000001&FriendlyName=Al")
        self.assertEqual(added["status"], 201, added)
        self.assertEqual(added["body"]["identifier"], "+15550000001")
        self.assertEqual(self.fake.ask("advance 30s"),
                         {"now": "2030-01-01T00:00:30Z"})
        messages = added["body"]["links"]["message_interactions"]
        sent = self.fake.ask(f"POST {messages} Body=hello+there")
        self.assertEqual(sent["status"], 201, sent)
        self.assertEqual(sent["body"]["data"], '{"body":"hello there"}')
        listed = self.fake.ask(f"GET {session['links']['interactions']}")
        self.assertEqual(listed["status"], 200, listed)
        self.assertEqual(listed["body"]["meta"]["key"], "interactions")
        self.assertEqual([i["sid"] for i in listed["body"]["interactions"]],
                         [sent["body"]["sid"]])
        got = self.fake.ask(f"GET {session['url']}")
        self.assertEqual(got["body"]["status"], "in-progress")
        self.assertEqual(got["body"]["date_last_interaction"],
                         "2030-01-01T00:00:30Z")
        again = self.fake.ask(f"POST {participants} Identifier=%2B15550000001")
        self.assertEqual(again["status"], 400, again)
        self.assertEqual(again["body"]["code"], 80103)

    def test_max_interactions_flags(self):
        self.fake = self.start("--max-interactions", "1",
                               "--max-interactions-per-session=none")
        sessions = f"/v1/Services/{self.create_service()}/Sessions"
        session = self.fake.ask(f"POST {sessions}")["body"]
        added = self.fake.ask(
            f"POST {session['links']['participants']} Identifier=a")["body"]
        messages = added["links"]["message_interactions"]
        self.assertEqual(self.fake.ask(f"POST {messages} Body=1")["status"],
                         201)
        refused = self.fake.ask(f"POST {messages} Body=2")
        self.assertEqual(refused["status"], 429, refused)
        self.assertEqual(refused["body"]["code"], 20429)

    def test_max_services_flag(self):
        self.fake = self.start("--max-services", "1")
        self.create_service("one")
        refused = self.fake.ask("POST /v1/Services UniqueName=two")
        self.assertEqual(refused["status"], 429, refused)
        self.assertEqual(refused["body"]["code"], 20429)
        self.assertIn("the store holds its maximum of 1 Services",
                      refused["body"]["message"])

    def create_services(self, names):
        """Creates a Service for each name, the lines written at once."""
        for name in names:
            self.fake.write(f"POST /v1/Services UniqueName={name}")
        for name in names:
            answer = self.fake.read()
            self.assertEqual(answer["status"], 201, (name, answer))

    def test_by_default_the_1001st_service_is_429(self):
        self.create_services([f"s{i}" for i in range(1000)])
        refused = self.fake.ask("POST /v1/Services UniqueName=one-more")
        self.assertEqual(refused["status"], 429, refused)
        self.assertEqual(refused["body"]["code"], 20429)
        self.assertEqual(refused["body"]["message"],
                         "Too Many Requests: the store holds its maximum of "
                         "1000 Services.")

    def test_none_lifts_a_limit(self):
        self.fake = self.start("--max-services", "none",
                               "--max-sessions=none")
        self.create_services([f"s{i}" for i in range(1001)])
        self.fake = self.start("--max-services=0")
        refused = self.fake.ask("POST /v1/Services UniqueName=none")
        self.assertEqual(refused["status"], 429, refused)

    def test_a_participant_field_too_long_is_80701(self):
        sessions = f"/v1/Services/{self.create_service()}/Sessions"
        for field, most in [("Identifier", 191), ("FriendlyName", 255),
                            ("ProxyIdentifier", 191)]:
            with self.subTest(field=field):
                # Counted in characters: four-byte ones, sent as they are.
                fits = json.dumps({field: "\U0001F600" * most},
                                  ensure_ascii=False)
                created = self.fake.ask(f"POST {sessions} Participants={fits}")
                self.assertEqual(created["status"], 201, created)
                over = json.dumps({field: "x" * (most + 1)})
                refused = self.fake.ask(
                    f"POST {sessions} UniqueName=long&Participants={over}")
                self.assert_bad_line(refused, "Participants")
                self.assertEqual(
                    refused["body"]["message"],
                    f"'Participants' is invalid. Its {field} must be {most} "
                    "characters or fewer.")
        listed = self.fake.ask(f"GET {sessions}")
        self.assertEqual(len(listed["body"]["sessions"]), 3, listed)

    def test_a_line_too_long_gets_413_and_it_carries_on(self):
        sessions = f"/v1/Services/{self.create_service()}/Sessions"
        # 1 MiB: far past the 64 KiB body and the 16 KiB for the rest.
        answer = self.fake.ask(f"POST {sessions} UniqueName=" + "a" * 2**20)
        self.assertEqual(answer["status"], 413, answer)
        body = answer["body"]
        self.assertEqual(set(body), {"code", "message", "more_info", "status"})
        self.assertEqual(body["code"], 20413)
        self.assertEqual(body["status"], 413)
        self.assertTrue(body["message"].startswith("Line too long"), body)
        # A body just past 64 KiB fits on a line: the fake refuses it.
        answer = self.fake.ask(f"POST {sessions} Pad=" + "a" * 2**16)
        self.assertEqual(answer["status"], 413, answer)
        self.assertTrue(
            answer["body"]["message"].startswith("Request body too large"))
        listed = self.fake.ask(f"GET {sessions}")
        self.assertEqual(listed["status"], 200, listed)
        self.assertEqual(listed["body"]["sessions"], [])

    def test_eof_exits_zero(self):
        self.fake.ask("GET /v1/Services")
        self.assertEqual(self.fake.close(), 0)
        self.assertTrue(self.fake.no_more_output())

    def test_last_line_without_newline_is_answered(self):
        self.fake.process.stdin.write("now 2030-01-01T00:00:00Z")
        self.fake.process.stdin.close()
        self.assertEqual(self.fake.read(), {"now": "2030-01-01T00:00:00Z"})
        self.assertEqual(self.fake.process.wait(timeout=TIMEOUT_SECONDS), 0)


class FlagsTest(unittest.TestCase):

    def run_fake(self, *flags):
        return subprocess.run([BINARY, *flags], input="", capture_output=True,
                              text=True, timeout=TIMEOUT_SECONDS)

    def test_help(self):
        result = self.run_fake("--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("usage: sessionwheel-fake", result.stdout)

    def test_the_limits_have_bounded_defaults(self):
        flags = {}
        for line in self.run_fake("--help").stdout.splitlines():
            if line.startswith("  --"):
                flags[line.split()[0]] = line.rsplit("default: ", 1)[1]
        self.assertEqual(flags["--max-sessions"], "100000;")
        self.assertEqual(flags["--max-services"], "1000;")
        self.assertEqual(flags["--max-sessions-per-service"], "none;")
        self.assertEqual(flags["--max-interactions"], "4000;")
        self.assertEqual(flags["--max-interactions-per-session"], "1000;")

    def test_bad_flags_exit_2_with_usage_on_stderr(self):
        for flags in [["--nope"], ["--seed"], ["--seed", "x"],
                      ["--retention", "-1"], ["--auto-services=1"],
                      ["--max-sessions", "-1"], ["--max-sessions-per-service"],
                      ["--max-services", "-1"], ["--max-services", "+1"],
                      ["--max-services", "None"], ["--max-sessions=1.5"],
                      ["positional"]]:
            with self.subTest(flags=flags):
                result = self.run_fake(*flags)
                self.assertEqual(result.returncode, 2)
                self.assertEqual(result.stdout, "")
                self.assertIn("usage: sessionwheel-fake", result.stderr)

    def test_good_flags_and_empty_input_exit_0(self):
        result = self.run_fake("--seed", "7", "--base=http://x",
                               "--auto-services", "--retention", "0",
                               "--max-sessions", "0",
                               "--max-sessions-per-service=5",
                               "--max-services=3")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "")
        result = self.run_fake("--max-sessions=none", "--max-services", "none",
                               "--max-sessions-per-service", "none")
        self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
