// A WebSocket client on Node's `ws` package, the library users have, for NodeWebSocketTest.
//
//   node ws-client.mjs PORT MODE LIFETIME_MS
//
// It connects to ws://127.0.0.1:PORT/ws. MODE is `silent` (it sends nothing; `ws` answers the server's pings with
// pongs on its own) or `every=N` (a text message every N ms). LIFETIME_MS after `open` it closes with 1000 "done".
// It prints one line per event, `<ms since start> <event>`:
//   open | ping | sent N | close CODE REASON | error MESSAGE | timeout | exit CODE
// and ends by itself: after the close, or LIFETIME_MS + 10 s after start whatever happens (exit code 3).
import WebSocket from 'ws';

const started = performance.now();
const log = (line) => process.stdout.write(`${(performance.now() - started).toFixed(1)} ${line}\n`);

const [portArg, mode = 'silent', lifetimeArg = '5000'] = process.argv.slice(2);
const port = Number(portArg);
const lifetime = Number(lifetimeArg);
const every = mode === 'silent' ? 0 : Number(mode.replace(/^every=/, ''));
if (!Number.isInteger(port) || port < 1 || port > 65535
    || !Number.isInteger(lifetime) || lifetime < 0 || lifetime > 60_000
    || !(mode === 'silent' || (/^every=\d+$/.test(mode) && every >= 10))) {
  process.stderr.write('usage: node ws-client.mjs PORT silent|every=N(>=10) LIFETIME_MS(<=60000)\n');
  process.exit(2);
}

const timers = [];
const guard = setTimeout(() => {
  log('timeout');
  process.exit(3);
}, lifetime + 10_000);
guard.unref(); // fires only if something (a hung socket) keeps the process alive
process.on('exit', (code) => log(`exit ${code}`));

const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);

ws.on('open', () => {
  log('open');
  if (every > 0) {
    const max = Math.floor(lifetime / every) + 1; // bounded in count as well as in time
    let sent = 0;
    const tick = setInterval(() => {
      if (sent >= max || ws.readyState !== WebSocket.OPEN) {
        clearInterval(tick);
        return;
      }
      sent += 1;
      ws.send(`message ${sent}`);
      log(`sent ${sent}`);
    }, every);
    timers.push(tick);
  }
  timers.push(setTimeout(() => ws.close(1000, 'done'), lifetime));
});

ws.on('ping', () => log('ping'));

ws.on('error', (err) => log(`error ${err.message}`));

ws.on('close', (code, reason) => {
  log(`close ${code} ${reason.toString()}`);
  for (const t of timers) {
    clearTimeout(t);
    clearInterval(t);
  }
  // Nothing is left to keep the process alive: it exits 0 once the socket is gone.
});
