package emulator

// The JavaScript files the harness writes into its scratch directory before
// starting Node. They are kept in Go so the harness has nothing to install
// besides the npm packages themselves.

// listenMarker is what preloadJS prints to stderr (the emulator's log) once
// a server is listening. Readiness waits for it as well as for an HTTP 200:
// the 200 alone could come from some other server that grabbed the port
// between the harness choosing it and Node binding it.
const listenMarker = "shardwise-emulator: listening on "

// preloadJS is loaded into every emulator with `node -r`. It rewrites
// net.Server.prototype.listen (which http, https and tls servers inherit) so
// that every TCP listen goes to 127.0.0.1, whatever host the emulator asked
// for. kinesis-local has no host option at all and binds 0.0.0.0; the others
// take a host, and the preload makes sure nothing they open on the side
// escapes either.
//
// Node's listen accepts listen(), listen(cb), listen(port[, host][,
// backlog][, cb]), listen(options[, cb]), listen(path[, cb]) and
// listen(handle[, cb]). Port forms get 127.0.0.1 as host (inserted before a
// backlog, which Node then still finds as the next numeric argument),
// options objects get host overridden, pipes and already-open handles are
// left alone.
//
// It also makes SIGTERM end the process at once. The emulators keep
// everything in memory, so there is nothing to flush, while kinesis-mock's
// own graceful shutdown never finishes while a client holds an idle
// keep-alive connection (an SDK client's pool, say) and would sit out
// Stop's grace period until SIGKILL.
const preloadJS = `'use strict';
// Written by the shardwise emulator harness; see internal/emulator/scripts.go.
const net = require('net');
const HOST = '127.0.0.1';
const MARKER = ` + "`" + listenMarker + "`" + `;
const originalListen = net.Server.prototype.listen;

// Captured now: cats-effect (kinesis-mock's runtime) later replaces
// process.exit with its graceful shutdown.
const exitNow = process.exit.bind(process);
process.on('SIGTERM', () => exitNow(0));

// dynalite rethrows the 'error' event of an incoming request
// (req.on('error', err => { throw err })), so a client that hangs up in
// the middle of sending a request -- a Go context cancelled mid-call --
// kills the whole emulator with "Error: aborted" / ECONNRESET. Such a
// request is gone and nothing is half-applied, so only that error is
// survived; anything else still ends the process, as it would have.
process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.code === 'ECONNABORTED' || err.message === 'aborted')) {
    process.stderr.write('shardwise-emulator: ignored a request aborted by its client (' + (err.code || err.message) + ')\n');
    return;
  }
  // An emulator with a handler of its own (kinesis-mock's runtime has
  // one) decides for itself; otherwise crash as Node would have.
  if (process.listenerCount('uncaughtException') > 1) return;
  process.stderr.write('shardwise-emulator: uncaught exception: ' + (err && err.stack ? err.stack : String(err)) + '\n');
  exitNow(1);
});

function isPort(v) {
  return typeof v === 'number' || (typeof v === 'string' && /^[0-9]+$/.test(v));
}

function isHandle(o) {
  return o._handle !== undefined || o.handle !== undefined || o.fd !== undefined;
}

net.Server.prototype.listen = function shardwiseListen(...args) {
  const a = args.slice();
  if (a.length > 0 && (a[0] === undefined || a[0] === null)) a[0] = 0;
  if (a.length === 0 || typeof a[0] === 'function') a.unshift(0);
  if (isPort(a[0])) {
    if (a.length > 1 && (typeof a[1] === 'string' || a[1] === undefined || a[1] === null)) {
      a[1] = HOST;
    } else {
      a.splice(1, 0, HOST);
    }
  } else if (typeof a[0] === 'object' && a[0] !== null && !a[0].path && !isHandle(a[0])) {
    const opts = Object.assign({}, a[0], { host: HOST });
    delete opts.ipv6Only;
    a[0] = opts;
  }
  this.once('listening', () => {
    const addr = this.address();
    if (addr && typeof addr === 'object') {
      process.stderr.write(MARKER + addr.address + ':' + addr.port + '\n');
    }
  });
  return originalListen.apply(this, a);
};
`

// kinesaliteJS starts kinesalite through its module (its CLI has no host
// option). Arguments: module directory, port, shard limit.
const kinesaliteJS = `'use strict';
// Written by the shardwise emulator harness; see internal/emulator/scripts.go.
const [moduleDir, port, shardLimit] = process.argv.slice(2);
const kinesalite = require(moduleDir);
kinesalite({
  createStreamMs: 0,
  deleteStreamMs: 0,
  updateStreamMs: 0,
  shardLimit: Number(shardLimit),
}).listen(Number(port), '127.0.0.1');
`
