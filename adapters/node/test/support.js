'use strict';
// What every test file here shares: a fake on a fixed seed and clock, and an
// SDK client whose every request goes to it. Not a test file itself (the
// runs list test/*.test.js).

const path = require('node:path');
const twilio = require('twilio');
const {startFake} = require('..');

// The tool: $SESSIONWHEEL_FAKE (ctest sets it), else the dev preset's build.
const BINARY = process.env.SESSIONWHEEL_FAKE ||
  path.resolve(__dirname, '../../../build/dev/tools/sessionwheel-fake');

// The fake checks no credentials; the SDK wants an AC... SID.
const ACCOUNT_SID = 'AC' + '0'.repeat(32);
const START = '2030-01-01T00:00:00Z';

// A started fake and a client on it; options go to startFake, except
// `client`, which goes to the SDK (region, edge...).
async function fakeAndClient(options = {}) {
  const {client: clientOptions, ...fakeOptions} = options;
  const fake = await startFake({binary: BINARY, seed: 7, now: START, ...fakeOptions});
  const client = twilio(ACCOUNT_SID, 'token', {...clientOptions, httpClient: fake.httpClient});
  return {fake, client, proxy: client.proxy.v1};
}

// Runs `call` and returns the RestException it must reject with.
async function restError(call) {
  try {
    await call();
  } catch (error) {
    if (!(error instanceof twilio.RestException)) throw error;
    return error;
  }
  throw new Error('expected a RestException, but the call succeeded');
}

module.exports = {BINARY, ACCOUNT_SID, START, fakeAndClient, restError};
