"""The adapter itself: finding the tool, the clock, starting and stopping."""

import datetime
import os

import pytest
from twilio.http import HttpClient

from helpers import START, at
from sessionwheel_fake import (ENV_VAR, NO_LIMIT, FakeHttpClient, FakeProcess,
                               find_binary)


def test_is_an_sdk_http_client(proxy_fake):
    assert isinstance(proxy_fake, HttpClient)


class TestFindBinary:

    def test_the_argument_first(self, fake_binary, monkeypatch):
        monkeypatch.setenv(ENV_VAR, "/nonexistent/sessionwheel-fake")
        assert find_binary(fake_binary) == fake_binary

    def test_then_the_environment(self, fake_binary, monkeypatch):
        monkeypatch.setenv(ENV_VAR, fake_binary)
        assert find_binary() == fake_binary

    def test_then_the_path(self, fake_binary, monkeypatch):
        monkeypatch.delenv(ENV_VAR, raising=False)
        monkeypatch.setenv("PATH", os.path.dirname(fake_binary))
        assert find_binary() == fake_binary

    def test_a_named_binary_that_is_missing_is_an_error(self, fake_binary,
                                                        monkeypatch):
        monkeypatch.setenv("PATH", os.path.dirname(fake_binary))
        with pytest.raises(FileNotFoundError, match="from the argument"):
            find_binary("/nonexistent/sessionwheel-fake")
        monkeypatch.setenv(ENV_VAR, "/nonexistent/sessionwheel-fake")
        with pytest.raises(FileNotFoundError, match=ENV_VAR):
            find_binary()

    def test_none_anywhere(self, monkeypatch, tmp_path):
        monkeypatch.delenv(ENV_VAR, raising=False)
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(FileNotFoundError, match="not on the PATH"):
            FakeHttpClient()


class TestClock:

    def test_starts_where_the_fixture_sets_it(self, proxy_fake):
        assert proxy_fake.now() == START

    def test_now_sets_it_back_and_forth(self, proxy_fake):
        assert proxy_fake.now(at(days=3)) == at(days=3)
        assert proxy_fake.now("2029-12-31") == at(days=-1)
        plus_two = datetime.timezone(datetime.timedelta(hours=2))
        assert proxy_fake.now(datetime.datetime(2030, 1, 1, 2,
                                                tzinfo=plus_two)) == START
        # Naive is UTC, as the SDK writes it.
        assert proxy_fake.now(datetime.datetime(2030, 1, 1, 1)) == \
            at(hours=1)

    def test_advance(self, proxy_fake):
        assert proxy_fake.advance(datetime.timedelta(hours=1)) == at(hours=1)
        assert proxy_fake.advance(60) == at(hours=1, minutes=1)
        assert proxy_fake.advance("1m") == at(hours=1, minutes=2)
        # Milliseconds add up; answers show whole seconds.
        assert proxy_fake.advance(1.5) == at(hours=1, minutes=2, seconds=1)
        assert proxy_fake.advance(datetime.timedelta(milliseconds=500)) == \
            at(hours=1, minutes=2, seconds=2)

    def test_advance_refuses_what_the_clock_cannot_do(self, proxy_fake):
        with pytest.raises(ValueError, match="forward"):
            proxy_fake.advance(-1)
        with pytest.raises(ValueError, match="whole milliseconds"):
            proxy_fake.advance(datetime.timedelta(microseconds=1))
        with pytest.raises(ValueError, match="'advance' is invalid"):
            proxy_fake.advance("5d")
        with pytest.raises(ValueError, match="'now' is invalid"):
            proxy_fake.now("yesterday")
        assert proxy_fake.now() == START


class TestLifetime:

    def test_close_stops_the_tool(self, fake_binary):
        fake = FakeHttpClient(fake_binary)
        process = fake.fake._process
        assert process.poll() is None
        assert fake.close() == 0
        assert process.poll() == 0
        assert fake.close() == 0  # twice is harmless
        with pytest.raises(RuntimeError, match="closed"):
            fake.now()

    def test_with_block(self, fake_binary):
        with FakeHttpClient(fake_binary) as fake:
            process = fake.fake._process
            fake.now()
        assert process.poll() == 0

    def test_flags(self, fake_binary):
        with FakeProcess(fake_binary, seed=7, auto_services=True,
                         retention=60, max_sessions=NO_LIMIT,
                         max_sessions_per_service=3, max_services=2) as fake:
            assert fake.argv[1:] == [
                "--seed=7", "--auto-services", "--retention=60",
                "--max-sessions=none", "--max-sessions-per-service=3",
                "--max-services=2"]
            # --auto-services: a well-formed unknown Service is made on use.
            status, _ = fake.request("GET",
                                     f"/v1/Services/KS{'1' * 32}/Sessions")
            assert status == 200
        with pytest.raises(ValueError, match="max_sessions"):
            FakeProcess(fake_binary, max_sessions=-1)


def test_the_pipe_alone(fake_binary):
    # FakeProcess needs no SDK: a request is a target and a form body.
    with FakeProcess(fake_binary, start_time=START) as fake:
        status, service = fake.request("POST", "/v1/Services",
                                       "UniqueName=rides")
        assert status == 201
        status, session = fake.request(
            "POST", f"/v1/Services/{service['sid']}/Sessions",
            "UniqueName=Order+%231234")
        assert (status, session["unique_name"]) == (201, "Order #1234")
        status, body = fake.request(
            "DELETE", f"/v1/Services/{service['sid']}/Sessions/{session['sid']}")
        assert (status, body) == (204, None)
        with pytest.raises(ValueError, match="one word"):
            fake.request("GET", "/v1/Services Page=1")
        with pytest.raises(ValueError, match="one line"):
            fake.request("POST", "/v1/Services", "UniqueName=a\nGET")


def test_a_line_the_tool_answers_nothing_to_is_refused(fake_binary):
    # The tool answers nothing to a blank line or a '#' comment: sent, it
    # would leave command() waiting for ever, holding the lock.
    with FakeProcess(fake_binary, start_time=START) as fake:
        for line in ["", "  ", "\t", "# a comment", " \t# indented"]:
            with pytest.raises(ValueError, match="no answer"):
                fake.command(line)
        with pytest.raises(ValueError, match="no answer"):
            fake.request("#", "/v1/Services")
        status, _ = fake.request("POST", "/v1/Services", "UniqueName=after")
        assert status == 201
