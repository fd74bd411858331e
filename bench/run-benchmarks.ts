import 'reflect-metadata';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { benchIngest, type IngestFigures } from './ingest.bench';
import { benchPixel, type PixelFigures } from './pixel.bench';
import { benchSend, type SendFigures } from './send.bench';

/**
 * `npm run bench [-- --only ingest,pixel,send] [--contacts 100000] [--batches 100] [--concurrency 4] [--messages 5000]`
 * Prints the figures and writes them to bench/results/latest.json; the numbers
 * quoted in docs/benchmarks.md come from such runs.
 */
function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const only = new Set(arg('only', 'ingest,pixel,send').split(','));
  const engines = arg('engines', 'postgres,embedded').split(',') as ('postgres' | 'embedded')[];
  const contacts = Number(arg('contacts', '100000'));
  const batches = Number(arg('batches', '100'));
  const results: {
    machine: string;
    at: string;
    ingest: IngestFigures[];
    pixel?: PixelFigures;
    send?: SendFigures;
  } = {
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    at: new Date().toISOString(),
    ingest: [],
  };
  if (only.has('ingest')) {
    for (const engine of engines) {
      console.log(`ingest on ${engine}: ${contacts} contacts, ${batches} x 1,000 events ...`);
      const figures = await benchIngest(engine, contacts, batches, Number(arg('concurrency', '4')));
      console.log(figures);
      results.ingest.push(figures);
    }
  }
  if (only.has('pixel')) {
    console.log('open pixel vs bare node:http, 50 connections ...');
    results.pixel = await benchPixel(50, Number(arg('duration', '10')));
    console.log(JSON.stringify(results.pixel, null, 2));
  }
  if (only.has('send')) {
    const messages = Number(arg('messages', '5000'));
    console.log(`send: render + MIME on one core, then ${messages} messages end to end into SMTP (2 connections) ...`);
    results.send = await benchSend(messages, messages, 2);
    console.log(JSON.stringify(results.send, null, 2));
  }
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
