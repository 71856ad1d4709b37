'use strict';
// Participants and Interactions through the twilio SDK (issue 12, parts 2
// and 3). docs/semantics.md, "Participants and Interactions", has the rules;
// tests/proxy_fake_participant_test.cc checks the same ones through
// ProxyFake::Handle.

const assert = require('node:assert/strict');
const {test, before, after} = require('node:test');
const {START, fakeAndClient, restError} = require('./support');

const ALICE = {Identifier: '+15551230001', FriendlyName: 'Alice'};
const BOB = {Identifier: '+15551230002', ProxyIdentifier: '+15559990000'};

let fake;
let proxy;
let service;

before(async () => {
  ({fake, proxy} = await fakeAndClient());
  service = await proxy.services.create({uniqueName: 'rides'});
});
after(async () => {
  assert.equal(await fake.close(), 0);
});

// A new Session of the Service and its SDK context.
async function newSession(params = {}) {
  const created = await proxy.services(service.sid).sessions.create(params);
  return proxy.services(service.sid).sessions(created.sid);
}

test('participants given at Session create are listed in creation order', async () => {
  const session = await newSession({participants: [ALICE, BOB]});
  const listed = await session.participants.list();
  assert.deepEqual(listed.map((p) => p.identifier), [ALICE.Identifier, BOB.Identifier]);
  assert.equal(listed[1].proxyIdentifier, BOB.ProxyIdentifier);
  for (const p of listed) {
    assert.match(p.sid, /^KP[0-9a-f]{32}$/);
    assert.deepEqual(p.dateCreated, new Date(START));
    assert.equal(p.dateDeleted, null);
  }
});

test('a participant is created, fetched, and removed as a soft delete', async () => {
  const session = await newSession();
  const alice = await session.participants.create({
    identifier: '+15551230001', friendlyName: 'Alice', proxyIdentifier: '+15559990000',
  });
  assert.match(alice.sid, /^KP[0-9a-f]{32}$/);
  assert.equal(alice.friendlyName, 'Alice');
  assert.equal((await session.participants(alice.sid).fetch()).identifier, '+15551230001');

  await fake.advance('5s');
  const removedAt = await fake.now();
  assert.equal(await session.participants(alice.sid).remove(), true);
  // Still there, with date_deleted set.
  const deleted = await session.participants(alice.sid).fetch();
  assert.deepEqual(deleted.dateDeleted, removedAt);
  assert.equal((await session.participants.list()).length, 1);
  // A deleted participant cannot be added again.
  const again = await restError(() => session.participants.create({identifier: '+15551230001'}));
  assert.equal(again.code, 80103);
});

test('at most two participants (80609) and one identifier once (80103)', async () => {
  const session = await newSession({participants: [ALICE]});
  const twice = await restError(() => session.participants.create({identifier: ALICE.Identifier}));
  assert.equal(twice.status, 400);
  assert.equal(twice.code, 80103);
  await session.participants.create({identifier: BOB.Identifier});
  const third = await restError(() => session.participants.create({identifier: '+15551230003'}));
  assert.equal(third.code, 80609);
});

test('a message interaction is the Session\'s interaction', async () => {
  const session = await newSession({ttl: 60, participants: [ALICE, BOB]});
  const [alice] = await session.participants.list();
  await fake.advance('50s');
  const sentAt = await fake.now();

  const sent = await session.participants(alice.sid).messageInteractions.create({body: 'On my way'});
  assert.match(sent.sid, /^KI[0-9a-f]{32}$/);
  assert.equal(sent.type, 'message');
  assert.deepEqual(JSON.parse(sent.data), {body: 'On my way'});

  const fetched = await session.fetch();
  assert.equal(fetched.status, 'in-progress');
  assert.deepEqual(fetched.dateLastInteraction, sentAt);
  // The TTL window restarted at the message: 59 s later it is still open.
  await fake.advance('59s');
  assert.equal((await session.fetch()).status, 'in-progress');
  await fake.advance('1s');
  assert.equal((await session.fetch()).status, 'closed');
});

test('interactions are listed newest first, fetched and removed', async () => {
  const session = await newSession({participants: [ALICE]});
  const [alice] = await session.participants.list();
  const first = await session.participants(alice.sid).messageInteractions.create({body: 'one'});
  await fake.advance('1s');
  const second = await session.participants(alice.sid).messageInteractions.create({body: 'two'});

  const listed = await session.interactions.list();
  assert.deepEqual(listed.map((i) => i.sid), [second.sid, first.sid]);
  assert.equal(listed[0].outboundParticipantSid, alice.sid);
  assert.equal(listed[0].inboundParticipantSid, null);
  assert.deepEqual(JSON.parse((await session.interactions(first.sid).fetch()).data), {body: 'one'});

  assert.equal(await session.interactions(first.sid).remove(), true);
  assert.deepEqual((await session.interactions.list()).map((i) => i.sid), [second.sid]);
  const gone = await restError(() => session.interactions(first.sid).fetch());
  assert.equal(gone.code, 20404);
});

test('a message on an ended Session is 80607, through a removed participant 80614', async () => {
  const session = await newSession({participants: [ALICE, BOB]});
  const [alice, bob] = await session.participants.list();
  await session.participants(bob.sid).remove();
  const removed = await restError(
      () => session.participants(bob.sid).messageInteractions.create({body: 'hi'}));
  assert.equal(removed.code, 80614);

  await session.update({status: 'closed'});
  const ended = await restError(
      () => session.participants(alice.sid).messageInteractions.create({body: 'hi'}));
  assert.equal(ended.status, 400);
  assert.equal(ended.code, 80607);
});
