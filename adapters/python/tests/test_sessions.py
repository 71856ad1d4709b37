"""Sessions through the real twilio SDK, from create to delete, paging and
expiry on the fake's clock."""

import datetime
import urllib.parse

import pytest
from twilio.base.exceptions import TwilioRestException

from helpers import START, at

ALICE = {"Identifier": "+15551230001", "FriendlyName": "Alice"}
BOB = {"Identifier": "+15551230002", "ProxyIdentifier": "+15559990000"}


def test_service_create(proxy_client):
    service = proxy_client.proxy.v1.services.create(unique_name="rides",
                                                    default_ttl=300)
    assert service.sid.startswith("KS")
    assert service.unique_name == "rides"
    assert service.default_ttl == 300
    assert service.date_created == START
    assert proxy_client.proxy.v1.services(service.sid).fetch().sid == \
        service.sid


def test_session_create_with_every_parameter(proxy_service):
    session = proxy_service.sessions.create(
        unique_name="Order-1234", date_expiry=at(hours=2), ttl=600,
        mode="voice-only", status="in-progress", participants=[ALICE, BOB],
        fail_on_participant_conflict=True)

    assert session.sid.startswith("KC")
    assert session.service_sid == proxy_service.sid
    assert session.unique_name == "Order-1234"
    assert session.date_expiry == at(hours=2)
    assert session.ttl == 600
    assert session.mode == "voice-only"
    assert session.status == "in-progress"
    assert session.closed_reason is None
    assert session.date_created == START
    assert set(session.links) == {"participants", "interactions"}


def test_session_takes_the_service_default_ttl(proxy_client):
    service = proxy_client.proxy.v1.services.create(unique_name="s",
                                                    default_ttl=90)
    assert service.sessions.create().ttl == 90


def test_fetch_by_sid_and_by_unique_name(proxy_service):
    created = proxy_service.sessions.create(unique_name="Order-1234")

    by_sid = proxy_service.sessions(created.sid).fetch()
    by_name = proxy_service.sessions("Order-1234").fetch()

    assert by_sid.sid == by_name.sid == created.sid
    assert by_name.unique_name == "Order-1234"


def test_fetch_by_a_name_the_path_must_escape(proxy_service):
    # The SDK puts the name into the path as it is, so "#" would start the
    # URL's fragment; quoting it is the caller's job, with Twilio as here.
    created = proxy_service.sessions.create(unique_name="Order #1234")
    quoted = urllib.parse.quote("Order #1234", safe="")

    assert proxy_service.sessions(quoted).fetch().sid == created.sid
    with pytest.raises(TwilioRestException) as error:
        proxy_service.sessions("Order #1234").fetch()
    assert error.value.code == 20404


def test_instance_fetch_reads_the_current_state(proxy_fake, proxy_service):
    session = proxy_service.sessions.create(ttl=60)
    proxy_fake.advance(30)
    assert session.fetch().date_updated == START
    assert session.update(ttl=120).date_updated == at(seconds=30)


def test_update_ttl_and_date_expiry(proxy_fake, proxy_service):
    session = proxy_service.sessions.create(ttl=60)
    proxy_fake.advance(10)

    updated = session.update(ttl=3600)
    assert updated.ttl == 3600
    assert updated.date_updated == at(seconds=10)

    updated = session.update(date_expiry=at(minutes=5))
    assert updated.date_expiry == at(minutes=5)
    proxy_fake.advance(datetime.timedelta(minutes=5))
    closed = session.fetch()
    assert closed.status == "closed"
    assert closed.closed_reason == "date_expiry"
    assert closed.date_ended == at(minutes=5)


def test_close_and_reopen(proxy_fake, proxy_service):
    session = proxy_service.sessions.create(ttl=60)

    closed = session.update(status="closed")
    assert closed.status == "closed"
    assert closed.closed_reason == "api"
    assert closed.date_ended == START

    proxy_fake.advance(120)
    reopened = session.update(status="in-progress")
    assert reopened.status == "in-progress"
    assert reopened.date_ended is None
    assert reopened.closed_reason is None

    # A re-open restarts the TTL window from its own time.
    proxy_fake.advance(59)
    assert session.fetch().status == "in-progress"
    proxy_fake.advance(1)
    assert session.fetch().date_ended == at(seconds=180)


def test_delete(proxy_service):
    session = proxy_service.sessions.create(unique_name="gone")

    assert session.delete() is True

    with pytest.raises(TwilioRestException) as error:
        proxy_service.sessions(session.sid).fetch()
    assert error.value.status == 404
    assert error.value.code == 20404
    # The name is free again.
    assert proxy_service.sessions.create(unique_name="gone").sid != session.sid


def test_expiry_after_advance(proxy_fake, proxy_service):
    session = proxy_service.sessions.create(unique_name="short", ttl=60)

    assert proxy_fake.advance(59) == at(seconds=59)
    assert session.fetch().status == "open"

    proxy_fake.advance(datetime.timedelta(seconds=1))
    expired = session.fetch()
    assert expired.status == "closed"
    assert expired.closed_reason == "ttl"
    assert expired.date_ended == at(seconds=60)
    # A listed Session is seen closed too.
    assert [s.status for s in proxy_service.sessions.list()] == ["closed"]


class TestPaging:
    """Five Sessions, listed newest first, two a page."""

    @pytest.fixture
    def sids(self, proxy_service):
        made = [proxy_service.sessions.create(unique_name=f"s{i}").sid
                for i in range(5)]
        return made[::-1]

    def test_list(self, proxy_service, sids):
        assert [s.sid for s in proxy_service.sessions.list(page_size=2)] == sids
        assert [s.sid for s in proxy_service.sessions.list()] == sids
        assert [s.sid for s in proxy_service.sessions.list(limit=3)] == sids[:3]

    def test_stream(self, proxy_fake, proxy_service, sids):
        stream = proxy_service.sessions.stream(page_size=2)
        assert next(stream).sid == sids[0]
        assert next(stream).sid == sids[1]
        assert proxy_fake.last_request.params["PageSize"] == 2
        # The third record needs the second page, fetched from its URL.
        assert next(stream).sid == sids[2]
        assert "PageToken=" in proxy_fake.last_request.url
        assert [s.sid for s in stream] == sids[3:]

    def test_page_next_and_previous(self, proxy_service, sids):
        first = proxy_service.sessions.page(page_size=2)
        assert [s.sid for s in first] == sids[0:2]
        assert first.previous_page() is None

        second = first.next_page()
        assert [s.sid for s in second] == sids[2:4]
        third = second.next_page()
        assert [s.sid for s in third] == sids[4:5]
        assert third.next_page() is None

        back = third.previous_page()
        assert [s.sid for s in back] == sids[2:4]
        assert [s.sid for s in back.previous_page()] == sids[0:2]

    def test_get_page_from_a_page_url(self, proxy_service, sids):
        first = proxy_service.sessions.page(page_size=2)
        second = proxy_service.sessions.get_page(first.next_page_url)
        assert [s.sid for s in second] == sids[2:4]


def test_an_update_that_makes_it_overdue(proxy_fake, proxy_service):
    session = proxy_service.sessions.create(ttl=3600)
    proxy_fake.advance(80)

    updated = session.update(ttl=50)

    assert updated.status == "closed"
    assert updated.closed_reason == "ttl"
    assert updated.date_ended == at(seconds=50)
    # The update's own time: no date moves backwards.
    assert updated.date_updated == at(seconds=80)


def test_date_expiry_any_fraction_and_a_leap_second(proxy_service):
    # The SDK sends a string as it is (a datetime it writes to the second).
    fraction = proxy_service.sessions.create(
        date_expiry="2031-01-01T00:00:01." + "9" * 30 + "Z")
    assert fraction.date_expiry == datetime.datetime(
        2031, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc)
    leap = proxy_service.sessions.create(date_expiry="2031-12-31T23:59:60Z")
    assert leap.date_expiry == datetime.datetime(
        2032, 1, 1, tzinfo=datetime.timezone.utc)
    with pytest.raises(TwilioRestException) as error:
        proxy_service.sessions.create(date_expiry="2031-06-01T12:34:60Z")
    assert error.value.code == 80701
