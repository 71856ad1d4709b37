'use strict';
// Runs the official `twilio` package against sessionwheel-fake, the stateful
// fake of the Twilio Proxy Session API, with no network: startFake() starts
// the tool and gives an `httpClient` that the SDK sends every request
// through, one command line down the tool's pipe and one JSON line back.
// docs/testing-with-the-fake.md ("Node: the twilio SDK") is the guide.
//
// Example:
//
//   const twilio = require('twilio');
//   const {startFake} = require('sessionwheel-fake');
//
//   const fake = await startFake({seed: 7, now: '2030-01-01T00:00:00Z'});
//   const client = twilio('AC' + '0'.repeat(32), 'token',
//                         {httpClient: fake.httpClient});
//   const service = await client.proxy.v1.services.create({uniqueName: 'rides'});
//   const session = await client.proxy.v1.services(service.sid).sessions
//       .create({uniqueName: 'Order #1234', ttl: 60});
//   await fake.advance('61s');                 // the TTL passes, no sleep
//   await session.fetch();                     // .status is 'closed'
//   await fake.close();

const {spawn} = require('node:child_process');
const readline = require('node:readline');

// The hosts of the Proxy API: proxy.twilio.com, and with the SDK's `region`
// and `edge` (or TWILIO_REGION, TWILIO_EDGE) proxy.<region>.twilio.com and
// proxy.<edge>.<region>.twilio.com.
const PROXY_HOST = /^proxy(\.[a-z0-9-]+){0,2}\.twilio\.com$/;

// The SDK's own retry defaults (twilio/lib/base/RequestClient.js).
const DEFAULT_MAX_RETRIES = 3;

// How much of the tool's stderr is kept to explain a failure.
const STDERR_KEEP_BYTES = 4096;

// Percent-encodes as the SDK's form encoder (`qs` in its RFC 3986 format)
// does: everything but A-Z a-z 0-9 - . _ ~, UTF-8 bytes as %XX. A lone
// surrogate, which no well-formed string has, becomes U+FFFD.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
function encodeComponent(value) {
  const wellFormed = String(value).replace(LONE_SURROGATE, '\uFFFD');
  return encodeURIComponent(wellFormed)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

// One name=value pair per value, as the SDK's client encodes `data` and
// `params`: qs.stringify(fields, {arrayFormat: 'repeat'}). An array repeats
// its key (Participants=...&Participants=...), a Date is its ISO string,
// null is an empty value, undefined is left out, and a nested object's keys
// are written name[key].
function encodeForm(fields) {
  const pairs = [];
  const add = (name, value) => {
    if (value === undefined) return;
    if (Array.isArray(value)) {
      for (const item of value) add(name, item);
    } else if (value instanceof Date) {
      pairs.push(encodeComponent(name) + '=' + encodeComponent(value.toISOString()));
    } else if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) add(`${name}[${key}]`, value[key]);
    } else {
      pairs.push(encodeComponent(name) + '=' + encodeComponent(value ?? ''));
    }
  };
  for (const name of Object.keys(fields || {})) add(name, fields[name]);
  return pairs.join('&');
}

// The target the fake is sent for one SDK request: its URL as the SDK built
// it, host and all (the fake takes every Proxy host, of any region and
// edge), with `params` appended as the SDK's client (axios) appends them.
function targetOf(url, params) {
  let target = url.origin + url.pathname + url.search;
  const query = params ? encodeForm(params) : '';
  if (query) target += (url.search ? '&' : '?') + query;
  return target;
}

// A duration for `advance`: a number of milliseconds, or a string the tool
// reads, "N" and a unit ms, s, m or h ("90s", "1500ms", "2h").
function durationText(duration) {
  if (typeof duration === 'number') {
    if (!Number.isSafeInteger(duration) || duration < 0) {
      throw new RangeError(`advance takes whole milliseconds, 0 or more; got ${duration}`);
    }
    return `${duration}ms`;
  }
  if (typeof duration === 'string' && /^\d+(ms|s|m|h)$/.test(duration)) return duration;
  throw new TypeError(
    `advance takes milliseconds or "N(ms|s|m|h)" such as "90s"; got ${JSON.stringify(duration)}`);
}

// An instant for `now`: a Date, or a string the tool reads (ISO 8601, as the
// API takes them: 2030-01-01T00:00:00Z, an offset, fractional seconds).
function instantText(instant) {
  if (instant instanceof Date) return instant.toISOString();
  if (typeof instant === 'string' && !/[\s]/.test(instant)) return instant;
  throw new TypeError(`now takes a Date or an ISO 8601 string; got ${JSON.stringify(instant)}`);
}

// The flags of sessionwheel-fake from startFake's options.
function flagsOf(options) {
  const flags = [];
  const limit = (value) => (value === null || value === Infinity ? 'none' : String(value));
  if (options.seed !== undefined) flags.push(`--seed=${options.seed}`);
  if (options.autoServices) flags.push('--auto-services');
  if (options.retention !== undefined) flags.push(`--retention=${options.retention}`);
  if (options.maxSessions !== undefined) flags.push(`--max-sessions=${limit(options.maxSessions)}`);
  if (options.maxSessionsPerService !== undefined) {
    flags.push(`--max-sessions-per-service=${limit(options.maxSessionsPerService)}`);
  }
  if (options.maxServices !== undefined) flags.push(`--max-services=${limit(options.maxServices)}`);
  return flags.concat(options.args || []);
}

// One running sessionwheel-fake. Commands are written at once and answered
// in order, so each waiting promise takes the next answer line.
class Fake {
  constructor(child, options) {
    this._child = child;
    this._waiting = [];  // {resolve, reject} of each command sent, in order
    this._stderr = '';
    this._exit = null;  // the Error every later command fails with
    // Settles when the process is gone, or never came (a spawn error).
    this._exited = new Promise((resolve) => {
      child.once('close', resolve);
      child.once('error', resolve);
    });
    this._autoRetry = Boolean(options.autoRetry);
    this._maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    /** Request lines sent to the fake so far, retries included. */
    this.requestCount = 0;

    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      this._stderr = (this._stderr + text).slice(-STDERR_KEEP_BYTES);
    });
    readline.createInterface({input: child.stdout, crlfDelay: Infinity})
      .on('line', (line) => this._answer(line));
    child.on('error', (error) => this._fail(`could not run ${options.binary}: ${error.message}`));
    child.on('close', (code, signal) => {
      this._fail(`sessionwheel-fake exited (${signal || `code ${code}`})` +
                 (this._stderr ? `: ${this._stderr.trim()}` : ''));
    });
    child.stdin.on('error', () => {});  // a dead child is reported by 'close'
    this._idle();

    /**
     * The object to give the SDK: twilio(sid, token, {httpClient}). It has
     * the `request(opts)` of the SDK's RequestClient and answers as it does,
     * with {statusCode, body, headers}, the body parsed JSON ("" when none).
     */
    this.httpClient = {request: (opts) => this._request(opts)};
  }

  /** Moves the fake's clock forward and runs what came due; the new time. */
  async advance(duration) {
    return this._clock(await this._send(`advance ${durationText(duration)}`));
  }

  /** Reads the fake's clock, or sets it (earlier too) to `instant`. */
  async now(instant) {
    const line = instant === undefined ? 'now' : `now ${instantText(instant)}`;
    return this._clock(await this._send(line));
  }

  /** Sends one request as given: {status, body}, the tool's answer. */
  async send(method, target, form) {
    const body = typeof form === 'string' ? form : encodeForm(form);
    this.requestCount++;
    return this._send(`${method.toUpperCase()} ${target}${body ? ' ' + body : ''}`);
  }

  /** Ends the tool's input and waits for it to exit; its exit code. */
  async close() {
    this._busy();  // Node waits for the exit
    if (this._child.exitCode === null && this._child.signalCode === null) {
      this._child.stdin.end();
    }
    await this._exited;
    return this._child.exitCode;
  }

  async _request(opts) {
    if (!opts || !opts.method || !opts.uri) throw new Error('a request needs a method and a uri');
    const url = new URL(opts.uri);
    if (url.protocol !== 'https:' || !PROXY_HOST.test(url.hostname)) {
      throw new Error(
        `sessionwheel-fake serves only the Proxy API (https://proxy[.<edge>].<region>.twilio.com); ` +
        `refused ${opts.method.toUpperCase()} ${opts.uri}`);
    }
    const target = targetOf(url, opts.params);
    // As the SDK's client: the body is form-encoded only when so declared.
    const headers = opts.headers || {};
    const form = opts.data && headers['Content-Type'] === 'application/x-www-form-urlencoded'
      ? encodeForm(opts.data) : '';
    const method = opts.method.toUpperCase();
    let answer = await this.send(method, target, form);
    for (let retry = 0; this._autoRetry && answer.status === 429 && retry < this._maxRetries; retry++) {
      answer = await this.send(method, target, form);
    }
    return {
      statusCode: answer.status,
      body: answer.body === null ? '' : answer.body,
      headers: answer.body === null ? {} : {'content-type': 'application/json'},
    };
  }

  _clock(answer) {
    if (typeof answer.now !== 'string') {
      throw new Error(`sessionwheel-fake refused the clock command: ${answer.body?.message ?? JSON.stringify(answer)}`);
    }
    return new Date(answer.now);
  }

  _send(line) {
    if (this._exit) return Promise.reject(this._exit);
    if (/[\r\n]/.test(line)) return Promise.reject(new Error('a command is one line'));
    // The tool skips these without a word: written, the next answer would
    // go to this waiter and every later one to the request before it.
    if (/^[ \t]*(#|$)/.test(line)) {
      return Promise.reject(new Error(
          `a blank line or a '#' comment gets no answer from sessionwheel-fake: ${JSON.stringify(line)}`));
    }
    return new Promise((resolve, reject) => {
      this._waiting.push({resolve, reject});
      this._busy();
      this._child.stdin.write(line + '\n');
    });
  }

  _answer(line) {
    const waiter = this._waiting.shift();
    if (!waiter) return;  // nothing asked for it; the tool never does this
    if (this._waiting.length === 0) this._idle();
    try {
      waiter.resolve(JSON.parse(line));
    } catch (error) {
      waiter.reject(new Error(`sessionwheel-fake answered a line that is not JSON: ${line}`));
    }
  }

  _fail(message) {
    if (!this._exit) this._exit = new Error(message);
    for (const waiter of this._waiting.splice(0)) waiter.reject(this._exit);
  }

  // While an answer is awaited the pipe keeps Node running; otherwise it
  // does not, so a test that forgets close() still ends (the tool then
  // exits on its own when the pipe closes).
  _busy() {
    this._child.ref();
    this._child.stdout.ref();
  }
  _idle() {
    this._child.unref();
    this._child.stdout.unref();
    this._child.stderr.unref();
    this._child.stdin.unref?.();
  }
}

/**
 * Starts sessionwheel-fake and waits until it answers; rejects if it cannot.
 *
 * options:
 *   binary      the tool; default $SESSIONWHEEL_FAKE, else sessionwheel-fake
 *               on the PATH
 *   seed        seed of every SID minted (--seed); default 1
 *   now         where the clock starts (a Date or ISO 8601 string); default
 *               the system time
 *   autoServices, retention, maxSessions, maxSessionsPerService,
 *   maxServices the tool's flags of those names (null or Infinity: none)
 *   args        more flags, as strings
 *   autoRetry   resend a request answered 429, as the SDK's own client does
 *               with its autoRetry (off by default, as there); at once, not
 *               after a delay: the fake's clock moves only when told to
 *   maxRetries  how many times at most; default 3, as the SDK's
 */
async function startFake(options = {}) {
  const binary = options.binary || process.env.SESSIONWHEEL_FAKE || 'sessionwheel-fake';
  const child = spawn(binary, flagsOf(options), {stdio: ['pipe', 'pipe', 'pipe']});
  const fake = new Fake(child, {...options, binary});
  try {
    await fake.now(options.now);
  } catch (error) {
    await fake.close().catch(() => {});
    throw new Error(`sessionwheel-fake did not start (${binary}): ${error.message}`);
  }
  return fake;
}

module.exports = {startFake, encodeForm};
