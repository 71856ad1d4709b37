"""Tests of code that uses the Twilio SDK's Proxy API, against
sessionwheel-fake: a ride's masked-number Session closes when its TTL
passes, and a full account answers 429. No network, no sleep.

The fixtures come from the plugin, named in a conftest.py:
    pytest_plugins = ["sessionwheel_fake.pytest_plugin"]
or on the command line, as CI runs this file:
    PYTHONPATH=adapters/python python3 -m pytest \
        -p sessionwheel_fake.pytest_plugin docs/examples/test_twilio_python.py \
        --sessionwheel-fake=build/dev/tools/sessionwheel-fake
"""

import datetime

import pytest
from twilio.base.exceptions import TwilioRestException


# The code under test: all it knows is a twilio.rest.Client.
def open_ride(client, service_sid, ride, driver, rider):
    return client.proxy.v1.services(service_sid).sessions.create(
        unique_name=f"ride-{ride}", ttl=3600,
        participants=[{"Identifier": driver}, {"Identifier": rider}])


def ride_is_open(client, service_sid, ride):
    session = client.proxy.v1.services(service_sid).sessions(
        f"ride-{ride}").fetch()
    return session.status in ("open", "in-progress")


# The tests: proxy_client is a twilio.rest.Client whose Proxy requests go
# to the fake, proxy_service a Service made there, proxy_fake the fake and
# its clock (it starts at 2030-01-01T00:00:00Z).
def test_a_ride_closes_an_hour_after_it_opens(proxy_fake, proxy_client,
                                              proxy_service):
    open_ride(proxy_client, proxy_service.sid, 42, "+15551230001",
              "+15551230002")

    proxy_fake.advance(datetime.timedelta(minutes=59))
    assert ride_is_open(proxy_client, proxy_service.sid, 42)

    proxy_fake.advance(datetime.timedelta(minutes=1))
    assert not ride_is_open(proxy_client, proxy_service.sid, 42)


@pytest.mark.sessionwheel_fake(max_sessions_per_service=1)
def test_a_full_account_answers_429(proxy_client, proxy_service):
    open_ride(proxy_client, proxy_service.sid, 1, "+15551230001",
              "+15551230002")

    # The first answer is the SDK's: nothing retries it.
    with pytest.raises(TwilioRestException) as error:
        open_ride(proxy_client, proxy_service.sid, 2, "+15551230003",
                  "+15551230004")
    assert error.value.status == 429
    assert error.value.code == 20429
