// A test written with the official twilio package against sessionwheel-fake:
// the SDK's own calls, a Session that closes when its TTL passes on the
// fake's clock, and a refusal read as a RestException. No network, no sleep.
// (docs/testing-with-the-fake.md shows this file verbatim.)
//
// Run: node --test node_sdk.test.js, with `twilio` and `sessionwheel-fake`
// installed and the tool on the PATH (or in $SESSIONWHEEL_FAKE).

const assert = require('node:assert/strict');
const {test, before, after} = require('node:test');
const twilio = require('twilio');
const {startFake} = require('sessionwheel-fake');

let fake;
let proxy;

before(async () => {
  fake = await startFake({seed: 7, now: '2030-01-01T00:00:00Z'});
  // Any AC... SID and token: the fake checks no credentials.
  const client = twilio('AC' + '0'.repeat(32), 'token', {httpClient: fake.httpClient});
  proxy = client.proxy.v1;
});
after(() => fake.close());

test('a Session closes when its TTL passes', async () => {
  const service = await proxy.services.create({uniqueName: 'rides'});
  const sessions = proxy.services(service.sid).sessions;
  const session = await sessions.create({uniqueName: 'ride-42', ttl: 60});
  assert.equal(session.status, 'open');

  await fake.advance('61s');  // moves the fake's clock; runs the expiry due

  const fetched = await sessions('ride-42').fetch();
  assert.equal(fetched.sid, session.sid);
  assert.equal(fetched.status, 'closed');
  assert.equal(fetched.closedReason, 'ttl');
  assert.deepEqual(fetched.dateEnded, new Date('2030-01-01T00:01:00Z'));
});

test('a taken unique name is a RestException with code 80603', async () => {
  const service = await proxy.services.create({uniqueName: 'deliveries'});
  const sessions = proxy.services(service.sid).sessions;
  await sessions.create({uniqueName: 'order-7'});
  const error = await sessions.create({uniqueName: 'order-7'}).catch((e) => e);
  assert.ok(error instanceof twilio.RestException);
  assert.equal(error.status, 400);
  assert.equal(error.code, 80603);
});
