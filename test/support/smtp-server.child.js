'use strict';
/**
 * The test SMTP server's own process (forked by smtp-server.ts; plain CommonJS so it runs
 * the same from test/ under Jest and from dist/test/ in the benchmarks).
 *
 * IPC protocol, child -> parent:
 *   { type: 'listening', port }                        once, when bound to 127.0.0.1
 *   { type: 'message', id, from, to, raw }             each message at end of DATA (raw: base64)
 * parent -> child:
 *   { type: 'verdict', id, code? }                     answer that message: 250, or `code` (e.g. 451, 550)
 *   { type: 'close' }                                  stop listening and exit
 *
 * A message is answered only after the parent's verdict, so the SMTP client never sees 250
 * for a message the parent has not recorded. The process exits when the parent goes away.
 */
const { SMTPServer } = require('smtp-server');

const send = process.send?.bind(process);
if (!send) {
  process.stderr.write('smtp-server.child.js must be started with fork() (it needs an IPC channel)\n');
  process.exit(2);
}

/** SMTP callbacks waiting for the parent's verdict, by message id. */
const pending = new Map();
let nextId = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: 10 * 1024 * 1024,
  closeTimeout: 1000,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => {
      if (stream.sizeExceeded) {
        callback(Object.assign(new Error('message too large'), { responseCode: 552 }));
        return;
      }
      nextId += 1;
      pending.set(nextId, callback);
      send({
        type: 'message',
        id: nextId,
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
        to: session.envelope.rcptTo.map((r) => r.address),
        raw: Buffer.concat(chunks).toString('base64'),
      });
    });
  },
});

server.on('error', (error) => {
  process.stderr.write(`test SMTP server: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

process.on('message', (message) => {
  switch (message && message.type) {
    case 'verdict': {
      const callback = pending.get(message.id);
      if (!callback) return;
      pending.delete(message.id);
      if (typeof message.code === 'number') {
        callback(Object.assign(new Error('test failure'), { responseCode: message.code }));
      } else {
        callback(null);
      }
      return;
    }
    case 'close':
      server.close(() => process.exit(0));
      return;
    default:
      process.stderr.write(`test SMTP server: unknown IPC message ${JSON.stringify(message)}\n`);
  }
});

// The parent exited (or closed the channel): never outlive it.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  send({ type: 'listening', port: server.server.address().port });
});
