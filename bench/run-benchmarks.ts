import 'reflect-metadata';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { benchIngest, type IngestFigures } from './ingest.bench';
import { benchPixel, type PixelFigures } from './pixel.bench';

/**
 * `npm run bench [-- --only ingest,pixel] [--contacts 100000] [--batches 100]`
 * Prints the figures and writes them to bench/results/latest.json; the numbers
 * quoted in docs/benchmarks.md come from such runs.
 */
function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const only = new Set(arg('only', 'ingest,pixel').split(','));
  const engines = arg('engines', 'postgres,embedded').split(',') as ('postgres' | 'embedded')[];
  const contacts = Number(arg('contacts', '100000'));
  const batches = Number(arg('batches', '100'));
  const results: { machine: string; at: string; ingest: IngestFigures[]; pixel?: PixelFigures } = {
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    at: new Date().toISOString(),
    ingest: [],
  };
  if (only.has('ingest')) {
    for (const engine of engines) {
      console.log(`ingest on ${engine}: ${contacts} contacts, ${batches} x 1,000 events ...`);
      const figures = await benchIngest(engine, contacts, batches, 4);
      console.log(figures);
      results.ingest.push(figures);
    }
  }
  if (only.has('pixel')) {
    console.log('open pixel vs bare node:http, 50 connections ...');
    results.pixel = await benchPixel(50, Number(arg('duration', '10')));
    console.log(JSON.stringify(results.pixel, null, 2));
  }
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
