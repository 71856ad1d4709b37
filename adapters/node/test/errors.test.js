'use strict';
// Each refusal reaches the test as the SDK's RestException, with the HTTP
// status, the Twilio code and the message the fake gives.

const assert = require('node:assert/strict');
const {test, before, after} = require('node:test');
const {fakeAndClient, restError} = require('./support');

let fake;
let proxy;
let sessions;

before(async () => {
  ({fake, proxy} = await fakeAndClient());
  const service = await proxy.services.create({uniqueName: 'errors'});
  sessions = proxy.services(service.sid).sessions;
});
after(async () => {
  assert.equal(await fake.close(), 0);
});

test('20404: no such Session, or no such Service', async () => {
  const missing = await restError(() => sessions('KC' + 'f'.repeat(32)).fetch());
  assert.equal(missing.status, 404);
  assert.equal(missing.code, 20404);
  assert.equal(missing.moreInfo, 'https://www.twilio.com/docs/errors/20404');
  const noService = await restError(() => proxy.services('KS' + 'f'.repeat(32)).fetch());
  assert.equal(noService.code, 20404);
});

test('80603: a unique name already taken in the Service', async () => {
  await sessions.create({uniqueName: 'taken'});
  const error = await restError(() => sessions.create({uniqueName: 'taken'}));
  assert.equal(error.status, 400);
  assert.equal(error.code, 80603);
});

test('80602: a Service unique name already taken', async () => {
  const error = await restError(() => proxy.services.create({uniqueName: 'errors'}));
  assert.equal(error.code, 80602);
});

test('80609: more than two participants', async () => {
  const error = await restError(() => sessions.create({
    participants: [{Identifier: '+15550000001'}, {Identifier: '+15550000002'},
                   {Identifier: '+15550000003'}],
  }));
  assert.equal(error.status, 400);
  assert.equal(error.code, 80609);
});

test('80701: an invalid parameter, named in the message', async () => {
  const badTtl = await restError(() => sessions.create({ttl: -1}));
  assert.equal(badTtl.status, 400);
  assert.equal(badTtl.code, 80701);
  assert.match(badTtl.message, /^'Ttl' is invalid\./);
  const badMode = await restError(() => sessions.create({mode: 'smoke-signals'}));
  assert.equal(badMode.code, 80701);
  assert.match(badMode.message, /^'Mode' is invalid\./);
});

test('80607: an update of a closed Session that is not a re-open', async () => {
  const session = await sessions.create({ttl: 60});
  await fake.advance('60s');
  const error = await restError(() => session.update({ttl: 120}));
  assert.equal(error.code, 80607);
});

test('80608: a status change the API does not allow', async () => {
  const session = await sessions.create({});
  const error = await restError(() => session.update({status: 'in-progress'}));
  assert.equal(error.code, 80608);
});

test('21481: a malformed PageToken, or an empty one', async () => {
  const error = await restError(() => sessions.page({pageToken: 'not-a-token'}));
  assert.equal(error.code, 21481);
  const empty = await restError(() => sessions.page({pageToken: ''}));
  assert.equal(empty.status, 400);
  assert.equal(empty.code, 21481);
});

test('80701: a Ttl too large for any integer says it is out of range', async () => {
  const error = await restError(() => sessions.create({ttl: '9999999999999999999999999'}));
  assert.equal(error.code, 80701);
  assert.match(error.message, /^'Ttl' is invalid\..*from 0 to 253402300799/);
  assert.doesNotMatch(error.message, /must be an integer/);
});

test('80409: a malformed Session SID on update', async () => {
  const error = await restError(() => sessions('not-a-sid').update({ttl: 5}));
  assert.equal(error.code, 80409);
});

test('20429: a create past the fake limit, without retries', async () => {
  const {fake: small, proxy: smallProxy} = await fakeAndClient({maxSessionsPerService: 2});
  const service = await smallProxy.services.create({uniqueName: 'small'});
  const few = smallProxy.services(service.sid).sessions;
  await few.create({});
  await few.create({});
  const before = small.requestCount;
  const error = await restError(() => few.create({}));
  assert.equal(error.status, 429);
  assert.equal(error.code, 20429);
  assert.equal(error.message, 'Too Many Requests: the Service holds its maximum of 2 Sessions.');
  assert.equal(small.requestCount - before, 1, 'a custom httpClient has no SDK retry');
  assert.equal(await small.close(), 0);
});

test('20429 with autoRetry: resent maxRetries times, then the 429', async () => {
  const {fake: small, proxy: smallProxy} =
    await fakeAndClient({maxSessionsPerService: 1, autoRetry: true, maxRetries: 2});
  const service = await smallProxy.services.create({uniqueName: 'small'});
  const one = smallProxy.services(service.sid).sessions;
  await one.create({});
  const before = small.requestCount;
  const error = await restError(() => one.create({}));
  assert.equal(error.code, 20429);
  assert.equal(small.requestCount - before, 3, 'the request and 2 retries');
  assert.equal(await small.close(), 0);
});

test('autoRetry: a retry that finds room succeeds', async () => {
  // The retry is queued behind what the test sent meanwhile: here a remove
  // that frees the place.
  const {fake: small, proxy: smallProxy} =
    await fakeAndClient({maxSessionsPerService: 1, autoRetry: true});
  const service = await smallProxy.services.create({uniqueName: 'small'});
  const one = smallProxy.services(service.sid).sessions;
  const first = await one.create({});
  const [created, removed] = await Promise.all([one.create({uniqueName: 'second'}), first.remove()]);
  assert.equal(removed, true);
  assert.equal(created.uniqueName, 'second');
  assert.equal(await small.close(), 0);
});
