// bench/otlp/replay.js -- the load generator of bench/otlp.sh: POSTs the
// request bodies made by gen.js to ppprof collect, CLIENTS at a time, over
// keep-alive connections (Node.js's own http module, no package).
//
//   node replay.js URL json|proto DIR CLIENTS
//
// Sends DIR/1 .. DIR/N, each once, CLIENTS requests in flight; every answer
// must be 200 (else exit 1, saying which).  Prints the wall-clock seconds
// from the first request to the last answer.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

const [url, format, dir, clientsArg] = process.argv.slice(2);
const clients = Number(clientsArg);
if (!url || !['json', 'proto'].includes(format) || !dir || !(clients > 0)) {
  console.error('usage: node replay.js URL json|proto DIR CLIENTS');
  process.exit(2);
}
const ctype = format === 'json' ? 'application/json' : 'application/x-protobuf';
const bodies = fs.readdirSync(dir).map(Number).filter((n) => n > 0).sort((a, b) => a - b)
  .map((n) => fs.readFileSync(path.join(dir, String(n))));
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
const target = new URL(url);

function post(body) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      agent, hostname: target.hostname, port: target.port, path: target.pathname, method: 'POST',
      headers: { 'Content-Type': ctype, 'Content-Length': body.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve()
        : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let next = 0;
async function client() {
  while (next < bodies.length) await post(bodies[next++]);
}

const t0 = process.hrtime.bigint();
Promise.all(Array.from({ length: clients }, client)).then(() => {
  console.log((Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3));
  agent.destroy();
}, (e) => {
  console.error(`replay: ${e.message}`);
  process.exit(1);
});
