"""Every host of the Proxy API reaches the fake: regions and edges however
the SDK is told of them. Any other API fails at once, naming its URL."""

import pytest
from twilio.rest import Client

from sessionwheel_fake import UnsupportedHostError, proxy_target
from sessionwheel_fake.pytest_plugin import ACCOUNT_SID, AUTH_TOKEN


def host_of_last_request(fake):
    return fake.last_request.url.split("/")[2]


def walk(client):
    """A Service, two Sessions and a list paged one at a time: every kind of
    URL (built, and taken back from a page) through `client`."""
    service = client.proxy.v1.services.create(unique_name="regional")
    made = [service.sessions.create().sid for _ in range(2)]
    listed = [s.sid for s in service.sessions.list(page_size=1)]
    assert listed == made[::-1]
    assert service.sessions(made[0]).fetch().sid == made[0]


@pytest.mark.parametrize("region, edge, host", [
    ("au1", None, "proxy.au1.twilio.com"),
    (None, "sydney", "proxy.sydney.us1.twilio.com"),
    ("au1", "sydney", "proxy.sydney.au1.twilio.com"),
])
def test_region_and_edge_arguments(proxy_fake, region, edge, host):
    client = Client(ACCOUNT_SID, AUTH_TOKEN, region=region, edge=edge,
                    http_client=proxy_fake)
    walk(client)
    assert host_of_last_request(proxy_fake) == host


def test_region_and_edge_from_the_environment(proxy_fake, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=proxy_fake)
    walk(client)
    assert host_of_last_request(proxy_fake) == "proxy.dublin.ie1.twilio.com"


def test_region_and_edge_set_on_the_client(proxy_fake, proxy_client):
    proxy_client.region = "jp1"
    proxy_client.edge = "tokyo"
    walk(proxy_client)
    assert host_of_last_request(proxy_fake) == "proxy.tokyo.jp1.twilio.com"


def test_another_api_fails_clearly(proxy_client):
    with pytest.raises(UnsupportedHostError, match="api.twilio.com"):
        proxy_client.api.v2010.accounts(ACCOUNT_SID).fetch()
    with pytest.raises(UnsupportedHostError, match="only the Twilio Proxy"):
        proxy_client.conversations.v1.conversations.list()


@pytest.mark.parametrize("url", [
    "https://api.twilio.com/v1/Services",
    "https://proxy.example.com/v1/Services",
    "https://proxy.a.b.c.twilio.com/v1/Services",
    "http://proxy.twilio.com/v1/Services",
    "https://proxy.twilio.com:8443/v1/Services",
    "https://user@proxy.twilio.com/v1/Services",
])
def test_only_proxy_hosts_are_served(url):
    with pytest.raises(UnsupportedHostError):
        proxy_target(url)


def test_the_url_goes_to_the_fake_as_it_is():
    # Host included: the fake serves every Proxy host itself.
    assert proxy_target(
        "https://PROXY.sydney.au1.twilio.com/v1/Services?PageSize=1#x") == \
        "https://PROXY.sydney.au1.twilio.com/v1/Services?PageSize=1"


def test_the_fake_sees_the_regional_url(proxy_fake, monkeypatch):
    client = Client(ACCOUNT_SID, AUTH_TOKEN, region="au1", edge="sydney",
                    http_client=proxy_fake)
    sent = []
    request = proxy_fake.fake.request
    monkeypatch.setattr(proxy_fake.fake, "request",
                        lambda *args: sent.append(args) or request(*args))
    client.proxy.v1.services.create(unique_name="regional")
    assert sent[0][1] == "https://proxy.sydney.au1.twilio.com/v1/Services"
