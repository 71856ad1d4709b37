"""A twilio.http.HttpClient that answers from sessionwheel-fake.

`twilio.rest.Client(sid, token, http_client=FakeHttpClient())` sends every
request of the Proxy API to a fake started with the client, instead of the
network; the test moves the fake's clock with advance() and now().

Example:

    with FakeHttpClient(start_time="2030-01-01T00:00:00Z") as fake:
        client = Client("AC" + "0" * 32, "token", http_client=fake)
        service = client.proxy.v1.services.create(unique_name="rides")
        session = service.sessions.create(ttl=60)
        fake.advance(61)
        assert session.fetch().status == "closed"
"""

import json
import re
import urllib.parse

import requests
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.request import Request as TwilioRequest
from twilio.http.response import Response

from .process import FakeProcess

# Every host of the Proxy API: proxy.twilio.com, proxy.<region>.twilio.com
# and proxy.<edge>.<region>.twilio.com, as twilio.rest.Client.get_hostname
# makes them from `region`, `edge`, TWILIO_REGION and TWILIO_EDGE.
_PROXY_HOST = re.compile(r"proxy(\.[a-z0-9-]+){0,2}\.twilio\.com")


class UnsupportedHostError(TwilioException):
    """A request for a host the fake does not serve (any API but Proxy)."""


def proxy_target(url):
    """The fake's target for a request URL as sent on the wire: the URL
    itself, host included, less its fragment.

    Raises UnsupportedHostError unless `url` is https on a Proxy host, so a
    request for another API fails here, naming its URL, rather than as the
    fake's 20404.
    """
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = "invalid"
    if (parts.scheme != "https" or port is not None or parts.username
            or not _PROXY_HOST.fullmatch(parts.hostname or "")):
        raise UnsupportedHostError(
            f"sessionwheel-fake serves only the Twilio Proxy API "
            f"(https://proxy[.<edge>][.<region>].twilio.com); this request "
            f"was for {url}")
    # The fake takes every Proxy host itself; only the fragment, which is
    # never sent, goes.
    return urllib.parse.urlunsplit(parts._replace(fragment=""))


class FakeHttpClient(HttpClient):
    """The HTTP client of a twilio.rest.Client, backed by sessionwheel-fake.

    Starts the tool when made (arguments as FakeProcess's: binary, seed,
    start_time, limits...) and stops it on close() or at the end of a `with`
    block. Requests are encoded exactly as the SDK's own TwilioHttpClient
    encodes them (the same `requests` preparation: repeated keys for a list
    such as Participants, the query from `params`), so the fake sees what
    Twilio would. Like TwilioHttpClient it keeps last_request and
    last_response. No request is retried: a 429 comes straight back, as it
    does from TwilioHttpClient (docs/testing-with-the-fake.md, "Python").
    """

    def __init__(self, binary=None, **options):
        self.fake = FakeProcess(binary, **options)
        self.last_request = None
        self.last_response = None

    def request(self, method, url, params=None, data=None, headers=None,
                auth=None, timeout=None, allow_redirects=False):
        """Answers one request of the SDK from the fake; `headers`, `auth`,
        `timeout` and `allow_redirects` are recorded, not used."""
        method = method.upper()
        self.last_request = TwilioRequest(method=method, url=url, auth=auth,
                                          params=params, data=data,
                                          headers=headers)
        self.last_response = None
        wire = requests.Request(method, url, params=params, data=data).prepare()
        body = wire.body or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        status, answer = self.fake.request(method, proxy_target(wire.url),
                                           body)
        if answer is None:
            self.last_response = Response(status, "", {})
        else:
            self.last_response = Response(
                status, json.dumps(answer),
                {"Content-Type": "application/json"})
        return self.last_response

    def now(self, when=None):
        """The fake's clock (an aware UTC datetime); sets it first if `when`
        is given. See FakeProcess.now."""
        return self.fake.now(when)

    def advance(self, by):
        """Moves the fake's clock forward; returns the new time. See
        FakeProcess.advance."""
        return self.fake.advance(by)

    def close(self):
        """Stops the fake; returns its exit code."""
        return self.fake.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
