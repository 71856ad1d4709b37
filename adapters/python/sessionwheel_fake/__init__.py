"""The Twilio Proxy fake, sessionwheel-fake, for tests of Python code that
uses twilio.rest.Client.

    from twilio.rest import Client
    from sessionwheel_fake import FakeHttpClient

    with FakeHttpClient(start_time="2030-01-01T00:00:00Z") as fake:
        client = Client("AC" + "0" * 32, "token", http_client=fake)
        ...
        fake.advance(datetime.timedelta(hours=1))

FakeHttpClient needs the twilio package; FakeProcess (the pipe alone) only
the standard library. pytest fixtures: sessionwheel_fake.pytest_plugin.
docs/testing-with-the-fake.md, "Python", has the whole story.
"""

from .process import ENV_VAR, NO_LIMIT, FakeProcess, find_binary

__all__ = ["ENV_VAR", "NO_LIMIT", "FakeHttpClient", "FakeProcess",
           "UnsupportedHostError", "find_binary", "proxy_target"]


def __getattr__(name):
    # Imported on first use, so FakeProcess works without twilio installed.
    if name in ("FakeHttpClient", "UnsupportedHostError", "proxy_target"):
        from . import http_client
        return getattr(http_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
