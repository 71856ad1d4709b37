"""Participants and Interactions through the SDK (issue 12, parts 2 and 3).

docs/semantics.md, "Participants and Interactions", has the rules these
tests check through twilio.rest.Client; the C++ tests of the same rules
are tests/proxy_fake_participant_test.cc.
"""

import json

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException

from helpers import at

ALICE = {"Identifier": "+15551230001", "FriendlyName": "Alice"}
BOB = {"Identifier": "+15551230002", "ProxyIdentifier": "+15559990000"}


def test_participants_given_at_create_are_listed(proxy_service):
    session = proxy_service.sessions.create(participants=[ALICE, BOB])
    listed = session.participants.list()
    assert sorted(p.identifier for p in listed) == [
        ALICE["Identifier"], BOB["Identifier"]]
    assert all(p.sid.startswith("KP") for p in listed)


def test_participant_create_fetch_delete(proxy_service):
    session = proxy_service.sessions.create()
    alice = session.participants.create(
        identifier="+15551230001", friendly_name="Alice",
        proxy_identifier="+15559990000")
    assert alice.sid.startswith("KP")
    assert alice.friendly_name == "Alice"
    assert alice.proxy_identifier == "+15559990000"
    assert session.participants(alice.sid).fetch().identifier == \
        "+15551230001"

    assert alice.delete() is True
    # A soft delete: still fetched, with date_deleted set.
    deleted = session.participants(alice.sid).fetch()
    assert deleted.date_deleted == at()
    # A deleted participant cannot be added again.
    with pytest.raises(TwilioRestException) as error:
        session.participants.create(identifier="+15551230001")
    assert error.value.code == 80103


def test_80609_a_third_participant(proxy_service):
    session = proxy_service.sessions.create(participants=[ALICE, BOB])
    with pytest.raises(TwilioRestException) as error:
        session.participants.create(identifier="+15551230003")
    assert error.value.code == 80609


def test_80103_the_same_identifier_twice(proxy_service):
    session = proxy_service.sessions.create(participants=[ALICE])
    with pytest.raises(TwilioRestException) as error:
        session.participants.create(identifier=ALICE["Identifier"])
    assert error.value.code == 80103


def test_a_message_is_an_interaction(proxy_fake, proxy_service):
    session = proxy_service.sessions.create(ttl=60,
                                            participants=[ALICE, BOB])
    alice = [p for p in session.participants.list()
             if p.identifier == ALICE["Identifier"]][0]
    proxy_fake.advance(50)

    interaction = session.participants(alice.sid).message_interactions.create(
        body="On my way")

    assert interaction.sid.startswith("KI")
    assert interaction.type == "message"
    assert json.loads(interaction.data) == {"body": "On my way"}
    # Sent from the API through Alice: she is the outbound side.
    assert interaction.outbound_participant_sid == alice.sid
    assert interaction.inbound_participant_sid is None
    fetched = session.fetch()
    assert fetched.status == "in-progress"
    assert fetched.date_last_interaction == at(seconds=50)
    # The TTL window restarted at the interaction.
    proxy_fake.advance(59)
    assert session.fetch().status == "in-progress"

    listed = session.interactions.list()
    assert [i.sid for i in listed] == [interaction.sid]
    assert session.interactions(interaction.sid).fetch().type == "message"
    assert session.interactions(interaction.sid).delete() is True
    assert session.interactions.list() == []


def test_a_message_on_an_ended_session_is_refused(proxy_service):
    session = proxy_service.sessions.create(participants=[ALICE, BOB])
    alice = session.participants.list()[0]
    session.update(status="closed")
    with pytest.raises(TwilioRestException) as error:
        session.participants(alice.sid).message_interactions.create(body="hi")
    assert error.value.status == 400
    assert error.value.code == 80607  # The Session has ended.


def test_a_message_through_a_deleted_participant_is_80614(proxy_service):
    session = proxy_service.sessions.create(participants=[ALICE, BOB])
    alice = session.participants.list()[0]
    alice.delete()
    with pytest.raises(TwilioRestException) as error:
        session.participants(alice.sid).message_interactions.create(body="hi")
    assert error.value.code == 80614


def test_participants_are_removed_with_their_session(proxy_service):
    session = proxy_service.sessions.create(participants=[ALICE])
    session.delete()
    # A list page that fails is a plain TwilioException in twilio 7.7.1.
    with pytest.raises(TwilioException) as error:
        session.participants.list()
    assert error.value.args[1].status_code == 404
