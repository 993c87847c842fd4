// A WebSocket client on Node's `ws` package for HttpRealClientsTest: the HTTP layer's 101 followed by the heartbeat.
//
//   node ws-heartbeat-client.mjs PORT LIFETIME_MS pong|nopong
//
// It connects to ws://127.0.0.1:PORT/ws and sends nothing. With `pong`, `ws` answers the server's pings on its own;
// with `nopong` it is created with {autoPong: false} (ws >= 8.16) and never answers. LIFETIME_MS after `open` it
// closes with 1000 "done". It prints one line per event, `<ms since start> <event>`:
//   open | ping | close CODE REASON | pings N | error MESSAGE | timeout | exit CODE
// and ends by itself: after the close, or LIFETIME_MS + 10 s after start whatever happens (exit code 3).
import WebSocket from 'ws';

const started = performance.now();
const log = (line) => process.stdout.write(`${(performance.now() - started).toFixed(1)} ${line}\n`);

const [portArg, lifetimeArg = '3000', mode = 'pong'] = process.argv.slice(2);
const port = Number(portArg);
const lifetime = Number(lifetimeArg);
if (!Number.isInteger(port) || port < 1 || port > 65535
    || !Number.isInteger(lifetime) || lifetime < 0 || lifetime > 60_000 || !['pong', 'nopong'].includes(mode)) {
  process.stderr.write('usage: node ws-heartbeat-client.mjs PORT LIFETIME_MS(<=60000) pong|nopong\n');
  process.exit(2);
}

const guard = setTimeout(() => {
  log('timeout');
  process.exit(3);
}, lifetime + 10_000);
guard.unref();
process.on('exit', (code) => log(`exit ${code}`));

let pings = 0;
let closer;
const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { autoPong: mode === 'pong' });
ws.on('open', () => {
  log('open');
  closer = setTimeout(() => ws.close(1000, 'done'), lifetime);
});
ws.on('ping', () => {
  pings += 1;
  log('ping');
});
ws.on('error', (err) => log(`error ${err.message}`));
ws.on('close', (code, reason) => {
  log(`close ${code} ${reason.toString()}`);
  log(`pings ${pings}`);
  clearTimeout(closer);
});
