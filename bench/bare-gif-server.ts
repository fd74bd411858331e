import { createServer } from 'node:http';

/** The ceiling: a bare node:http server answering the same 43-byte GIF. */
const gif = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const server = createServer((_request, response) => {
  response.writeHead(200, {
    'content-type': 'image/gif',
    'cache-control': 'no-store, no-cache, must-revalidate, private',
    'content-length': gif.length,
  });
  response.end(gif);
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
