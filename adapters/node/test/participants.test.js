'use strict';
// Participants and Interactions through the SDK (issue 12, parts 2 and 3).
//
// TODO(issue 12): the fake does not serve these routes yet; they land with
// the Participants/Interactions work. Replace each todo with its test then:
//   session.participants.create({identifier, friendlyName, proxyIdentifier})
//   session.participants.list() and participants(KP).fetch()/remove()
//   participants(KP).messageInteractions.create({body})
//   session.interactions.list() and interactions(KI).fetch()/remove()

const {test} = require('node:test');

test.todo('participants: create, fetch, list (key participants), remove as a soft delete');
test.todo('participants: at most two a Session (80609), one identifier once (80103)');
test.todo('participants given at Session create are listed');
test.todo('a message interaction moves the Session to in-progress and restarts its TTL');
test.todo('interactions: list (key interactions), fetch, remove');
test.todo('a message on an ended Session is refused with the Proxy code');
