'use strict';
// The SDK's region and edge settings send requests to
// proxy.<edge>.<region>.twilio.com; every such host is the same fake.

const assert = require('node:assert/strict');
const {test} = require('node:test');
const twilio = require('twilio');
const {ACCOUNT_SID, fakeAndClient} = require('./support');

// A client on `fake` with the SDK options given, and the hosts it asked for.
function regionalClient(fake, options) {
  const hosts = [];
  const httpClient = {
    request: (opts) => {
      hosts.push(new URL(opts.uri).hostname);
      return fake.httpClient.request(opts);
    },
  };
  return {hosts, proxy: twilio(ACCOUNT_SID, 'token', {...options, httpClient}).proxy.v1};
}

test('a client with region au1 and edge sydney reaches the fake', async () => {
  const {fake, proxy: plain} = await fakeAndClient();
  const {hosts, proxy} = regionalClient(fake, {region: 'au1', edge: 'sydney'});
  const targets = [];  // what the adapter writes down the pipe
  const send = fake.send.bind(fake);
  fake.send = (method, target, body) => {
    targets.push(target);
    return send(method, target, body);
  };
  const service = await proxy.services.create({uniqueName: 'regional'});
  const sessions = proxy.services(service.sid).sessions;
  for (const uniqueName of ['a', 'b', 'c']) await sessions.create({uniqueName});
  // The page URLs the fake gives are followed through the regional host too.
  assert.deepEqual((await sessions.list({pageSize: 1})).map((s) => s.uniqueName),
                   ['c', 'b', 'a']);
  assert.ok(hosts.length >= 6);
  assert.ok(hosts.every((host) => host === 'proxy.sydney.au1.twilio.com'), hosts.join());
  // Passed to the fake as the SDK built them, host and all.
  assert.ok(targets.every((t) => t.startsWith('https://proxy.sydney.au1.twilio.com/v1/')),
            targets.join());
  // The same fake: what the regional client made, the plain one sees.
  assert.equal((await plain.services(service.sid).fetch()).uniqueName, 'regional');
  assert.equal(await fake.close(), 0);
});

test('a region alone, an edge alone, and the SDK env option', async () => {
  const {fake} = await fakeAndClient();
  const cases = [
    [{region: 'ie1'}, 'proxy.ie1.twilio.com'],
    [{edge: 'dublin'}, 'proxy.dublin.us1.twilio.com'],  // the SDK's default region
    [{env: {TWILIO_REGION: 'jp1', TWILIO_EDGE: 'tokyo'}}, 'proxy.tokyo.jp1.twilio.com'],
  ];
  for (const [options, expected] of cases) {
    const {hosts, proxy} = regionalClient(fake, options);
    await proxy.services.list();
    assert.deepEqual(hosts, [expected], JSON.stringify(options));
  }
  assert.equal(await fake.close(), 0);
});

test('TWILIO_REGION in the environment, as a CI job would set it', async () => {
  process.env.TWILIO_REGION = 'au1';
  process.env.TWILIO_EDGE = 'sydney';
  try {
    const {fake} = await fakeAndClient();
    const {hosts, proxy} = regionalClient(fake, {});
    const service = await proxy.services.create({uniqueName: 'from-env'});
    assert.equal(service.uniqueName, 'from-env');
    assert.deepEqual(hosts, ['proxy.sydney.au1.twilio.com']);
    assert.equal(await fake.close(), 0);
  } finally {
    delete process.env.TWILIO_REGION;
    delete process.env.TWILIO_EDGE;
  }
});
