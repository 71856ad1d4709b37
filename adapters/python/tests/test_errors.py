"""Each error the fake answers reaches the test as the SDK raises it: a
TwilioRestException with Twilio's status and code (a list page's error as
the TwilioException the SDK makes of it)."""

import json

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException

from helpers import START

MISSING_SESSION = "KC" + "0" * 32
MISSING_SERVICE = "KS" + "0" * 32


def raised(call):
    """The TwilioRestException `call` raises."""
    with pytest.raises(TwilioRestException) as error:
        call()
    return error.value


def test_20404_no_such_session_or_service(proxy_client, proxy_service):
    error = raised(proxy_service.sessions(MISSING_SESSION).fetch)
    assert (error.status, error.code) == (404, 20404)
    assert error.method == "GET"

    error = raised(lambda: proxy_client.proxy.v1.services(
        MISSING_SERVICE).sessions.create())
    assert (error.status, error.code) == (404, 20404)


def test_80603_unique_name_taken(proxy_service):
    proxy_service.sessions.create(unique_name="taken")
    error = raised(lambda: proxy_service.sessions.create(unique_name="taken"))
    assert (error.status, error.code) == (400, 80603)


def test_80602_service_name_taken(proxy_client, proxy_service):
    error = raised(lambda: proxy_client.proxy.v1.services.create(
        unique_name=proxy_service.unique_name))
    assert (error.status, error.code) == (400, 80602)


def test_80609_more_than_two_participants(proxy_service):
    # Three repeated Participants keys on the wire, as the SDK encodes them.
    three = [{"Identifier": f"+1555123000{i}"} for i in range(3)]
    error = raised(lambda: proxy_service.sessions.create(participants=three))
    assert (error.status, error.code) == (400, 80609)


def test_80701_invalid_parameter(proxy_service):
    error = raised(lambda: proxy_service.sessions.create(ttl="soon"))
    assert (error.status, error.code) == (400, 80701)
    assert "'Ttl' is invalid." in error.msg

    error = raised(lambda: proxy_service.sessions.create(ttl=10**25))
    assert error.code == 80701
    assert "from 0 to 253402300799" in error.msg

    error = raised(lambda: proxy_service.sessions.create(date_expiry=START))
    assert error.code == 80701
    assert "'DateExpiry' is invalid." in error.msg


def test_80608_a_status_change_the_api_does_not_allow(proxy_service):
    session = proxy_service.sessions.create()
    error = raised(lambda: session.update(status="in-progress"))
    assert (error.status, error.code) == (400, 80608)


def test_80607_update_of_a_closed_session(proxy_service):
    session = proxy_service.sessions.create()
    session.update(status="closed")
    error = raised(lambda: session.update(ttl=60))
    assert (error.status, error.code) == (400, 80607)


def test_80409_update_or_delete_by_name(proxy_service):
    proxy_service.sessions.create(unique_name="by-name")
    error = raised(proxy_service.sessions("by-name").delete)
    assert (error.status, error.code) == (400, 80409)


@pytest.mark.sessionwheel_fake(max_sessions_per_service=2)
def test_20429_past_a_limit_comes_straight_back(proxy_fake, proxy_service,
                                                 monkeypatch):
    proxy_service.sessions.create()
    proxy_service.sessions.create()
    sent = []
    request = proxy_fake.fake.request
    monkeypatch.setattr(proxy_fake.fake, "request",
                        lambda *args: sent.append(args) or request(*args))

    error = raised(proxy_service.sessions.create)

    assert (error.status, error.code) == (429, 20429)
    assert "maximum of 2 Sessions" in error.msg
    assert len(sent) == 1, "the 429 was retried"
    assert len(proxy_service.sessions.list()) == 2


@pytest.mark.sessionwheel_fake(max_services=1)
def test_20429_past_the_service_limit(proxy_client, proxy_service):
    error = raised(lambda: proxy_client.proxy.v1.services.create(
        unique_name="second"))
    assert (error.status, error.code) == (429, 20429)


@pytest.mark.parametrize("token", ["PAbogus", ""])
def test_21481_invalid_page_token(proxy_service, token):
    # twilio 7.7.1 raises a plain TwilioException for a page it cannot read,
    # with the response as its second argument. The SDK sends an empty
    # token as `PageToken=`, which is no token the API gave.
    with pytest.raises(TwilioException) as error:
        proxy_service.sessions.page(page_token=token)
    message, response = error.value.args
    assert message == "Unable to fetch page"
    assert response.status_code == 400
    assert json.loads(response.text)["code"] == 21481
