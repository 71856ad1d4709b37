'use strict';
// Paging through the SDK: list, each, page, nextPage and previousPage follow
// the fake's page URLs, newest Session first.

const assert = require('node:assert/strict');
const {test, before, after} = require('node:test');
const {fakeAndClient} = require('./support');

let fake;
let sessions;
let newestFirst;  // the names of the 5 Sessions, as the fake lists them

before(async () => {
  let proxy;
  ({fake, proxy} = await fakeAndClient());
  const service = await proxy.services.create({uniqueName: 'paging'});
  sessions = proxy.services(service.sid).sessions;
  const names = ['s1', 's2', 's3', 's4', 's5'];
  for (const uniqueName of names) {
    await sessions.create({uniqueName});
    await fake.advance('1s');
  }
  newestFirst = names.slice().reverse();
});
after(async () => {
  assert.equal(await fake.close(), 0);
});

test('list follows every next page', async () => {
  const all = await sessions.list({pageSize: 2});
  assert.deepEqual(all.map((s) => s.uniqueName), newestFirst);
});

test('list stops at its limit', async () => {
  const some = await sessions.list({limit: 3, pageSize: 2});
  assert.deepEqual(some.map((s) => s.uniqueName), newestFirst.slice(0, 3));
});

test('each visits every Session once', async () => {
  const seen = [];
  await new Promise((resolve, reject) => {
    sessions.each({pageSize: 2, done: (error) => (error ? reject(error) : resolve())},
                  (session) => seen.push(session.uniqueName));
  });
  assert.deepEqual(seen, newestFirst);
});

test('nextPage and previousPage walk the pages', async () => {
  const first = await sessions.page({pageSize: 2});
  assert.deepEqual(first.instances.map((s) => s.uniqueName), ['s5', 's4']);
  assert.equal(first.previousPageUrl, undefined);

  const second = await first.nextPage();
  assert.deepEqual(second.instances.map((s) => s.uniqueName), ['s3', 's2']);
  const third = await second.nextPage();
  assert.deepEqual(third.instances.map((s) => s.uniqueName), ['s1']);
  assert.equal(third.nextPage(), undefined, 'no page after the last');

  const back = await third.previousPage();
  assert.deepEqual(back.instances.map((s) => s.uniqueName), ['s3', 's2']);
  const front = await back.previousPage();
  assert.deepEqual(front.instances.map((s) => s.uniqueName), ['s5', 's4']);
});

test('a Session created after the first page does not shift the next', async () => {
  const first = await sessions.page({pageSize: 2});
  const extra = await sessions.create({uniqueName: 'newest'});
  const second = await first.nextPage();
  assert.deepEqual(second.instances.map((s) => s.uniqueName), ['s3', 's2'],
                   'a Session created since does not shift the pages');
  await extra.remove();
});
