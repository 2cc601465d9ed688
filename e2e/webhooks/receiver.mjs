// A webhook receiver for the tests: its own process, verifying every delivery with the
// `standardwebhooks` package (an implementation of the Standard Webhooks specification that
// is not Tollgate's), and answering as told, to exercise retries and timeouts.
//
//   node receiver.mjs            prints `ready http://127.0.0.1:<port>` once listening
//
//   PUT  /control/<hook>         {"secret": "whsec_…", "mode": "ok" | "fail" | "hang", "fail_first": n,
//                                 "also": ["whsec_…"]}
//                                how /hooks/<hook> answers from now on (default: 204); each secret
//                                of `also` is tried on its own too (`verified_also`: one answer each)
//   POST /hooks/<hook>           a delivery: verified, recorded, answered as the mode says
//   GET  /received               every delivery so far: hook, webhook-id, type, verified, payload
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Webhook } = require('standardwebhooks');

const hooks = new Map();
const received = [];

function body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://receiver');
  const [, area, name] = url.pathname.split('/');
  const text = await body(req);
  if (req.method === 'PUT' && area === 'control' && name) {
    const wanted = JSON.parse(text);
    hooks.set(name, { mode: 'ok', fail_first: 0, calls: 0, ...wanted });
    res.writeHead(204).end();
    return;
  }
  if (req.method === 'GET' && area === 'received') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
    return;
  }
  if (req.method === 'POST' && area === 'hooks' && name) {
    const hook = hooks.get(name) ?? { mode: 'ok', fail_first: 0, calls: 0 };
    hook.calls += 1;
    hooks.set(name, hook);
    const headers = {
      'webhook-id': req.headers['webhook-id'],
      'webhook-timestamp': req.headers['webhook-timestamp'],
      'webhook-signature': req.headers['webhook-signature'],
    };
    let verified = false;
    let payload = null;
    let why = null;
    try {
      payload = new Webhook(hook.secret ?? '').verify(text, headers);
      verified = true;
    } catch (e) {
      why = String(e.message ?? e);
      try { payload = JSON.parse(text); } catch { payload = text; }
    }
    const failing = hook.mode === 'fail' || hook.calls <= hook.fail_first;
    const verifiedAlso = (hook.also ?? []).map((secret) => {
      try { new Webhook(secret).verify(text, headers); return true; } catch { return false; }
    });
    received.push({
      signatures: (headers['webhook-signature'] ?? '').split(' ').filter(Boolean).length, verified_also: verifiedAlso,
      hook: name, id: headers['webhook-id'], timestamp: Number(headers['webhook-timestamp']),
      type: payload?.type ?? null, verified, why, payload, answered: hook.mode === 'hang' ? 'hang' : failing ? 500 : 204,
      at: new Date().toISOString(), content_type: req.headers['content-type'],
    });
    if (!verified) { res.writeHead(400).end('bad signature'); return; }
    if (hook.mode === 'hang') return; // never answers: Tollgate's timeout ends it
    if (failing) { res.writeHead(500).end('failing as told'); return; }
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404).end();
});

server.listen(0, '127.0.0.1', () => {
  console.log(`ready http://127.0.0.1:${server.address().port}`);
});
