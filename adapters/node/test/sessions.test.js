'use strict';
// The Session lifecycle through the twilio SDK: every call below is the
// SDK's own, and reaches sessionwheel-fake through the adapter.

const assert = require('node:assert/strict');
const {test, before, after} = require('node:test');
const {fakeAndClient, restError} = require('./support');

let fake;
let proxy;
let service;

before(async () => {
  ({fake, proxy} = await fakeAndClient());
  service = await proxy.services.create({uniqueName: 'rides', defaultTtl: 600});
});
after(async () => {
  assert.equal(await fake.close(), 0);
});

test('a Service is created, fetched and listed', async () => {
  assert.match(service.sid, /^KS[0-9a-f]{32}$/);
  assert.equal(service.uniqueName, 'rides');
  assert.equal(service.defaultTtl, 600);
  assert.deepEqual(service.dateCreated, new Date('2030-01-01T00:00:00Z'));
  const fetched = await proxy.services(service.sid).fetch();
  assert.equal(fetched.uniqueName, 'rides');
  const listed = await proxy.services.list();
  assert.deepEqual(listed.map((s) => s.sid), [service.sid]);
});

test('a Session is created with every parameter', async () => {
  const session = await proxy.services(service.sid).sessions.create({
    uniqueName: 'every-parameter',
    dateExpiry: new Date('2030-01-02T00:00:00Z'),
    ttl: 3600,
    mode: 'voice-only',
    status: 'in-progress',
    participants: [
      {Identifier: '+15550001111', FriendlyName: 'Rider & Co', ProxyIdentifier: '+15559990000'},
      {Identifier: '+15550002222', FriendlyName: 'Driver'},
    ],
  });
  assert.match(session.sid, /^KC[0-9a-f]{32}$/);
  assert.equal(session.serviceSid, service.sid);
  assert.equal(session.uniqueName, 'every-parameter');
  assert.deepEqual(session.dateExpiry, new Date('2030-01-02T00:00:00Z'));
  assert.equal(session.ttl, 3600);
  assert.equal(session.mode, 'voice-only');
  assert.equal(session.status, 'in-progress');
  assert.equal(session.closedReason, null);
  assert.deepEqual(session.dateCreated, new Date('2030-01-01T00:00:00Z'));
  assert.equal(session.url,
               `https://proxy.twilio.com/v1/Services/${service.sid}/Sessions/${session.sid}`);
  assert.equal(session.links.participants, `${session.url}/Participants`);
});

test('a Session is fetched by SID and by unique name', async () => {
  const sessions = proxy.services(service.sid).sessions;
  const created = await sessions.create({uniqueName: 'ride-42'});
  const bySid = await sessions(created.sid).fetch();
  assert.equal(bySid.uniqueName, 'ride-42');
  const byName = await sessions('ride-42').fetch();
  assert.equal(byName.sid, created.sid);
  assert.equal(byName.ttl, 600, "the Service's DefaultTtl");
});

test('a unique name that is not URL-safe is fetched encoded', async () => {
  // The SDK puts the name in the path as it is (a '#' would start a
  // fragment), so a test encodes it, as it must against the real API.
  const sessions = proxy.services(service.sid).sessions;
  const created = await sessions.create({uniqueName: 'Order #1234'});
  const byName = await sessions(encodeURIComponent('Order #1234')).fetch();
  assert.equal(byName.sid, created.sid);
});

test('a Session is updated, closed and re-opened', async () => {
  const sessions = proxy.services(service.sid).sessions;
  const session = await sessions.create({uniqueName: 'to-update', ttl: 60});
  await fake.advance('10s');
  const updated = await session.update({ttl: 120});
  assert.equal(updated.ttl, 120);
  assert.deepEqual(updated.dateUpdated, await fake.now());

  const closed = await session.update({status: 'closed'});
  assert.equal(closed.status, 'closed');
  assert.equal(closed.closedReason, 'api');
  assert.deepEqual(closed.dateEnded, await fake.now());

  await fake.advance('5s');
  const reopened = await session.update({status: 'in-progress'});
  assert.equal(reopened.status, 'in-progress');
  assert.equal(reopened.dateEnded, null);
  assert.equal(reopened.closedReason, null);
});

test('a Session closes when its TTL passes on the fake clock', async () => {
  const sessions = proxy.services(service.sid).sessions;
  const start = await fake.now();
  const session = await sessions.create({uniqueName: 'short', ttl: 60});
  assert.equal(session.status, 'open');

  await fake.advance('59s');
  assert.equal((await session.fetch()).status, 'open');
  await fake.advance(1000);  // milliseconds
  const expired = await session.fetch();
  assert.equal(expired.status, 'closed');
  assert.equal(expired.closedReason, 'ttl');
  assert.deepEqual(expired.dateEnded, new Date(start.getTime() + 60000));
});

test('a Session with a DateExpiry closes at it', async () => {
  const sessions = proxy.services(service.sid).sessions;
  const at = new Date((await fake.now()).getTime() + 3600000);
  const session = await sessions.create({uniqueName: 'dated', dateExpiry: at});
  await fake.advance('1h');
  const expired = await session.fetch();
  assert.equal(expired.status, 'closed');
  assert.equal(expired.closedReason, 'date_expiry');
  assert.deepEqual(expired.dateEnded, at);
});

test('an update that makes a Session overdue keeps its own date_updated', async () => {
  const sessions = proxy.services(service.sid).sessions;
  const created = await sessions.create({ttl: 3600});
  await fake.advance('100s');
  const updated = await created.update({ttl: 30});  // created + 30 s is past
  assert.equal(updated.status, 'closed');
  assert.equal(updated.closedReason, 'ttl');
  assert.deepEqual(updated.dateEnded, new Date(created.dateCreated.getTime() + 30000));
  assert.deepEqual(updated.dateUpdated, await fake.now(), 'not moved back to the expiry');
});

test('a DateExpiry with any number of fractional digits is read to the second', async () => {
  // The SDK sends a string as it is (a Date it writes in whole seconds).
  const sessions = proxy.services(service.sid).sessions;
  const session = await sessions.create({dateExpiry: '2031-01-01T00:00:01.' + '9'.repeat(30) + 'Z'});
  assert.deepEqual(session.dateExpiry, new Date('2031-01-01T00:00:01Z'));
});

test('a leap second is read only at 23:59:60 UTC, as the next second', async () => {
  const sessions = proxy.services(service.sid).sessions;
  const leap = await sessions.create({dateExpiry: '2031-12-31T23:59:60Z'});
  assert.deepEqual(leap.dateExpiry, new Date('2032-01-01T00:00:00Z'));
  const error = await restError(() => sessions.create({dateExpiry: '2031-06-01T12:34:60Z'}));
  assert.equal(error.code, 80701);
});

test('a removed Session is gone and its name is free', async () => {
  const sessions = proxy.services(service.sid).sessions;
  const session = await sessions.create({uniqueName: 'to-remove'});
  assert.equal(await session.remove(), true);
  await assert.rejects(session.fetch(), {status: 404, code: 20404});
  const again = await sessions.create({uniqueName: 'to-remove'});
  assert.notEqual(again.sid, session.sid);
});

test('the clock is set and read through the adapter', async () => {
  // A separate fake: setting the clock back would disturb the others.
  const {fake: other} = await fakeAndClient();
  assert.deepEqual(await other.now(), new Date('2030-01-01T00:00:00Z'));
  assert.deepEqual(await other.now(new Date('2031-06-01T12:00:00Z')),
                   new Date('2031-06-01T12:00:00Z'));
  assert.deepEqual(await other.advance('2h'), new Date('2031-06-01T14:00:00Z'));
  await assert.rejects(other.now('yesterday'), /refused the clock command.*'now' is invalid/);
  await assert.rejects(other.advance('2 days'), TypeError);
  assert.equal(await other.close(), 0);
});
