import 'reflect-metadata';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { benchIngest, type IngestFigures } from './ingest.bench';
import { benchPixel, type PixelFigures } from './pixel.bench';
import { benchScenarios, ISSUE_6_DATA_SET, type ScenarioFigures } from './scenarios.bench';
import { benchSend, type SendFigures } from './send.bench';

/**
 * `npm run bench [-- --only ingest,pixel,send] [--contacts 100000] [--batches 100] [--concurrency 4]
 *   [--event-window-minutes 43200] [--duration 10] [--rounds 5] [--messages 5000]`
 * `npm run bench -- --only scenarios [--regenerate] [--scale 1] [--event-seconds 60] [--events-per-second 500]`
 * (the scenario runtime on a generated 20M-event database; opt-in, not in the default list).
 * Prints the figures and writes them to bench/results/latest.json (sections of earlier runs
 * that this run did not measure are kept); the numbers quoted in docs/benchmarks.md come
 * from such runs.
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
    scenarios?: ScenarioFigures;
  } = {
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    at: new Date().toISOString(),
    ingest: [],
  };
  if (only.has('ingest')) {
    for (const engine of engines) {
      console.log(`ingest on ${engine}: ${contacts} contacts, ${batches} x 1,000 events ...`);
      const figures = await benchIngest(
        engine,
        contacts,
        batches,
        Number(arg('concurrency', '4')),
        Number(arg('event-window-minutes', String(30 * 24 * 60))),
      );
      console.log(figures);
      results.ingest.push(figures);
    }
  }
  if (only.has('pixel')) {
    const rounds = Number(arg('rounds', '5'));
    console.log(`open pixel vs bare node:http, 50 connections, ${rounds} alternating rounds ...`);
    results.pixel = await benchPixel(50, Number(arg('duration', '10')), rounds);
    console.log(JSON.stringify(results.pixel, null, 2));
  }
  if (only.has('send')) {
    const messages = Number(arg('messages', '5000'));
    console.log(`send: render + MIME on one core, then ${messages} messages end to end into SMTP (2 connections) ...`);
    results.send = await benchSend(messages, messages, 2);
    console.log(JSON.stringify(results.send, null, 2));
  }
  if (only.has('scenarios')) {
    const scale = Number(arg('scale', '1'));
    const parameters = {
      accounts: Math.round(ISSUE_6_DATA_SET.accounts * scale),
      contacts: Math.round(ISSUE_6_DATA_SET.contacts * scale),
      events: Math.round(ISSUE_6_DATA_SET.events * scale),
      days: ISSUE_6_DATA_SET.days,
    };
    results.scenarios = await benchScenarios({
      parameters,
      regenerate: process.argv.includes('--regenerate'),
      eventSeconds: Number(arg('event-seconds', '60')),
      eventsPerSecond: Number(arg('events-per-second', '500')),
      variantSample: Number(arg('variant-sample', '10000')),
      variants: !process.argv.includes('--no-variants'),
    });
  }
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  // Keep what earlier runs measured and this one did not (e.g. `--only scenarios` keeps ingest).
  const file = join(dir, 'latest.json');
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const merged: Record<string, unknown> = { ...previous, machine: results.machine, at: results.at };
  if (only.has('ingest')) merged.ingest = results.ingest;
  if (results.pixel) merged.pixel = results.pixel;
  if (results.send) merged.send = results.send;
  if (results.scenarios) merged.scenarios = results.scenarios;
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
