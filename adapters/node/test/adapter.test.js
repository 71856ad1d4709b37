'use strict';
// The adapter itself: it sends what the SDK's own client would send, refuses
// what the fake cannot answer, and starts and stops the tool cleanly.

const assert = require('node:assert/strict');
const path = require('node:path');
const {test} = require('node:test');
const twilio = require('twilio');
const RequestClient = require('twilio/lib/base/RequestClient');
const {startFake, encodeForm} = require('..');
const {ACCOUNT_SID, BINARY, fakeAndClient} = require('./support');

// The qs the SDK's client encodes with (its own dependency).
const qs = require(require.resolve('qs', {paths: [path.dirname(require.resolve('twilio'))]}));

test('encodeForm writes what the SDK client writes', () => {
  const samples = [
    {UniqueName: 'Order #1234', Ttl: 3600},
    {UniqueName: 'a+b & c=d / e?f', Mode: 'message-only'},
    {UniqueName: "!'()*~-._ ünïcødé 名前 😀"},
    {Participants: [JSON.stringify({Identifier: '+15550001111', FriendlyName: 'A & B'}),
                    JSON.stringify({Identifier: '+15550002222'})]},
    {DateExpiry: new Date('2030-01-02T03:04:05.678Z'), Flag: true, Zero: 0},
    {Empty: '', Null: null, Missing: undefined, Tail: 'x'},
    {List: []},
    {Nested: {Inner: 'v', Deeper: {Most: 'w'}}},
  ];
  for (const sample of samples) {
    assert.equal(encodeForm(sample), qs.stringify(sample, {arrayFormat: 'repeat'}),
                 JSON.stringify(sample));
  }
});

// Runs `call` with a client on the SDK's own RequestClient whose axios
// records each request instead of sending it; returns the bodies and URLs.
async function whatTheSdkSends(call) {
  const sent = [];
  const requestClient = new RequestClient();
  requestClient.axios.defaults.adapter = async (config) => {
    sent.push({method: config.method.toUpperCase(), url: requestClient.axios.getUri(config),
               body: config.data || ''});
    return {status: 200, statusText: 'OK', headers: {}, config,
            data: {sid: 'KC' + '0'.repeat(32), sessions: [], meta: {}}};
  };
  await call(twilio(ACCOUNT_SID, 'token', {httpClient: requestClient}).proxy.v1);
  return sent;
}

test('a Session create and a list reach the fake as the SDK sends them', async () => {
  const {fake, proxy} = await fakeAndClient();
  const seen = [];  // what the adapter writes down the pipe
  const send = fake.send.bind(fake);
  fake.send = (method, target, body) => {
    seen.push({method, url: target, body});
    return send(method, target, body);
  };
  const calls = async (v1) => {
    const sessions = v1.services('KS' + '0'.repeat(32)).sessions;
    await sessions.create({
      uniqueName: 'Order #1234 ✓', ttl: 60, mode: 'voice-only', status: 'open',
      dateExpiry: new Date('2030-01-02T00:00:00Z'),
      participants: [{Identifier: '+15550001111', FriendlyName: 'A & B'}],
    }).catch(() => {});  // the Service does not exist on the fake: 20404
    await sessions.page({pageSize: 7, pageToken: 'PT'}).catch(() => {});
  };
  await calls(proxy);
  assert.deepEqual(seen, await whatTheSdkSends(calls));
  assert.equal(await fake.close(), 0);
});

test('a request for a host outside the Proxy API is refused by name', async () => {
  const {fake, client} = await fakeAndClient();
  await assert.rejects(client.api.v2010.accounts.list(),
                       /serves only the Proxy API.*refused GET https:\/\/api\.twilio\.com\//);
  await assert.rejects(client.conversations.v1.conversations.list(),
                       /refused GET https:\/\/conversations\.twilio\.com\//);
  assert.equal(fake.requestCount, 0, 'nothing reached the fake');
  assert.equal(await fake.close(), 0);
});

test('a tool that cannot be run fails startFake with its path', async () => {
  await assert.rejects(startFake({binary: '/nonexistent/sessionwheel-fake'}),
                       /did not start \(\/nonexistent\/sessionwheel-fake\).*ENOENT/);
});

test('a bad flag fails startFake with what the tool said', async () => {
  await assert.rejects(startFake({binary: BINARY, args: ['--no-such-flag']}),
                       /did not start.*exited \(code 2\).*no-such-flag/s);
});

test('requests sent at once are answered in order', async () => {
  const {fake, proxy} = await fakeAndClient();
  const service = await proxy.services.create({uniqueName: 'order'});
  const sessions = proxy.services(service.sid).sessions;
  const names = Array.from({length: 20}, (_, i) => `n${i}`);
  const created = await Promise.all(names.map((uniqueName) => sessions.create({uniqueName})));
  assert.deepEqual(created.map((s) => s.uniqueName), names);
  assert.equal(await fake.close(), 0);
});

test('after close, a request fails rather than hangs', async () => {
  const {fake, proxy} = await fakeAndClient();
  assert.equal(await fake.close(), 0);
  await assert.rejects(proxy.services.list(), /sessionwheel-fake exited \(code 0\)/);
});

test('a line the tool answers nothing to is refused before it is written', async () => {
  // A blank line or a '#' comment gets no answer from the tool: written, it
  // would take the next request's answer and put every later one out of step.
  const {fake} = await fakeAndClient();
  for (const [method, target] of [['', ''], [' ', '\t'], ['#', '/v1/Services'], ['#GET', '/v1/Services']]) {
    await assert.rejects(fake.send(method, target), /gets no answer/);
  }
  const answer = await fake.send('POST', '/v1/Services', {UniqueName: 'after'});
  assert.equal(answer.status, 201);
  assert.equal(answer.body.unique_name, 'after');
  assert.equal(await fake.close(), 0);
});

test('send() takes a raw request, as the tool reads it', async () => {
  const {fake} = await fakeAndClient();
  const answer = await fake.send('post', '/v1/Services', {UniqueName: 'raw'});
  assert.equal(answer.status, 201);
  assert.equal(answer.body.unique_name, 'raw');
  assert.deepEqual(await fake.send('DELETE', `/v1/Services/${answer.body.sid}`),
                   {status: 204, body: null});
  assert.equal(await fake.close(), 0);
});
