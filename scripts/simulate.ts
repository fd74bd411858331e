/**
 * `npm run simulate -- scenarios/x.yaml --from 2026-10-01 [--to 2026-11-30] [--account <external id>] [--json]`
 *
 * Replays stored history through the scenario runtime with a virtual clock and prints what
 * the scenario would have done: subjects entered, per-step and per-variant counts, mail
 * per template, handoffs, goals reached; with --account, that account's path and the
 * reason for each decision. Nothing live is written (see src/scenarios/simulator).
 * Dates are days in DEFAULT_TIMEZONE (from its start to the end of `--to`) or ISO times.
 * On the embedded database Tend must be stopped (one process at a time); with
 * DATABASE_URL it can run beside a live Tend.
 */
import 'reflect-metadata';
import { resolve } from 'node:path';
import { DateTime } from 'luxon';
import { configureLogger } from '../src/common/logger';
import { ConfigError, loadConfig, loadDotEnv } from '../src/config/load-config';
import { openDatabase } from '../src/database/data-source.factory';
import { DataDirLockedError } from '../src/database/embedded-lock';
import { compileScenario } from '../src/scenarios/core/runtime/compiled-scenario';
import { formatIssue } from '../src/scenarios/core/yaml-source';
import { validateScenarioPaths } from '../src/scenarios/scenario-files';
import {
  ScenarioSimulator,
  SimulationInputError,
  type SimulationReport,
} from '../src/scenarios/simulator/scenario-simulator';

const USAGE =
  'usage: npm run simulate -- <scenario.yaml> --from <date> [--to <date>] [--account <external id>] [--json]';

function parseArgs(argv: string[]) {
  const args = [...argv];
  const option = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--'))
      throw new SimulationInputError(`${name} needs a value\n${USAGE}`);
    args.splice(i, 2);
    return value;
  };
  const from = option('--from');
  const to = option('--to');
  const account = option('--account');
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  const unknown = rest.find((a) => a.startsWith('--'));
  if (unknown) throw new SimulationInputError(`unknown option ${unknown}\n${USAGE}`);
  if (rest.length !== 1) throw new SimulationInputError(`give exactly one scenario file\n${USAGE}`);
  if (from === undefined) throw new SimulationInputError(`--from is required\n${USAGE}`);
  return { file: rest[0]!, from, to, account, json };
}

/** `2026-10-01` (a day in the zone: its start, or its end for `--to`) or an ISO time. */
export function parseInstant(text: string, zone: string, end: boolean, name: string): Date {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const parsed = day ? DateTime.fromISO(text, { zone }) : DateTime.fromISO(text, { setZone: true });
  if (!parsed.isValid) throw new SimulationInputError(`${name}: not a date: ${text}`);
  return (day && end ? parsed.endOf('day') : parsed).toJSDate();
}

async function main(): Promise<number> {
  loadDotEnv();
  const args = parseArgs(process.argv.slice(2));
  const { config } = loadConfig();
  configureLogger({ ...config.log, level: 'warn' });
  const zone = config.defaults.timeZone;
  const from = parseInstant(args.from, zone, false, '--from');
  const to = args.to === undefined ? new Date() : parseInstant(args.to, zone, true, '--to');
  if (to <= from) throw new SimulationInputError('--to must be after --from');

  const file = resolve(args.file);
  const validated = validateScenarioPaths({ paths: [file], templatesDir: resolve('templates') });
  if (validated.issues.length > 0) {
    for (const issue of validated.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    return 1;
  }
  const scenario = validated.scenarios[0];
  if (!scenario) throw new SimulationInputError(`${args.file}: no scenario in this file`);
  const compiled = compileScenario(scenario.definition, scenario.versionHash, validated.catalog);

  // One connection: the replay's sandbox is one database session.
  const database = await openDatabase(
    config.database.kind === 'embedded'
      ? { kind: 'embedded', dataDir: config.database.dataDir }
      : { kind: 'postgres', url: config.database.url, poolSize: 1 },
  );
  try {
    if (await database.dataSource.showMigrations()) {
      throw new SimulationInputError('the database schema is not up to date: run `npm run migrate` first');
    }
    const report = await new ScenarioSimulator(database.dataSource, config).run({
      scenario: { compiled, catalog: validated.catalog, file: scenario.file },
      from,
      to,
      account: args.account,
    });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  } finally {
    await database.close();
  }
}

export function formatReport(r: SimulationReport): string {
  const lines: string[] = [];
  const table = (rows: string[][]) => {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows) lines.push(`  ${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}`.trimEnd());
  };
  lines.push(`Scenario ${r.scenario.id} (version ${r.scenario.version.slice(0, 12)}), ${r.from} .. ${r.to}`);
  lines.push('Nothing was written and no mail was sent: this is a replay of stored history.', '');
  lines.push(`Entered: ${r.entered} enrollment(s) of ${r.subjects} subject(s)`);
  const exited = Object.entries(r.outcomes.exited).map(([reason, n]) => `${reason} ${n}`);
  lines.push(
    `Outcomes: goal reached ${r.outcomes.converted}, completed ${r.outcomes.completed}, still in the journey ${r.outcomes.active}` +
      (exited.length > 0 ? `, exited: ${exited.join(', ')}` : ''),
    '',
  );
  lines.push('Steps (times run):');
  table([['step', 'kind', 'runs'], ...r.steps.map((s) => [s.id, s.kind, String(s.runs)])]);
  if (r.variants.length > 0) {
    lines.push('', 'Variants:');
    table([
      ['split', 'variant', 'subjects', 'goal reached'],
      ...r.variants.map((v) => [v.split, v.variant, String(v.subjects), String(v.converted)]),
    ]);
  }
  lines.push('', 'Mail per template (before caps, quiet hours and suppression):');
  if (r.messages.length === 0) lines.push('  none');
  else table([['template', 'messages'], ...r.messages.map((m) => [m.template, String(m.count)])]);
  lines.push('', 'Handoffs:');
  if (r.handoffs.length === 0) lines.push('  none');
  else
    table([
      ['reason', 'kind', 'priority', 'count'],
      ...r.handoffs.map((h) => [h.reason, h.kind, h.priority, String(h.count)]),
    ]);
  if (r.path !== undefined) {
    lines.push('', 'Path of the account:');
    if (r.path.length === 0) lines.push('  it never entered in this period');
    for (const p of r.path) lines.push(`  ${p.at}  ${p.subject}: ${p.text}`);
  }
  lines.push('', `${r.instants} virtual instants replayed.`);
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (
        error instanceof SimulationInputError ||
        error instanceof ConfigError ||
        error instanceof DataDirLockedError
      ) {
        process.stderr.write(`simulate: ${error.message}\n`);
      } else {
        process.stderr.write(
          `simulate failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        );
      }
      process.exit(1);
    },
  );
}
