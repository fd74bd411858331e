import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { z } from 'zod';
import { FACT_CATALOGUE, FUNCTION_CATALOGUE } from '../src/scenarios/core/expression';
import { catalogSchema, scenarioSchema } from '../src/scenarios/core/scenario.schema';

/**
 * `npm run scenarios:schema [-- --check]`: writes the JSON Schemas editors use to
 * complete and check scenario files (referenced from each file's first line) and the fact
 * and function tables of docs/scenarios.md (from the catalogue in code); with --check,
 * fails when the committed files are not what the code generates.
 */
const targets = [
  { file: 'scenarios/_schema/scenario.schema.json', schema: scenarioSchema, title: 'Tend scenario' },
  { file: 'scenarios/_schema/catalog.schema.json', schema: catalogSchema, title: 'Tend scenario catalogue' },
];

function generate(schema: z.ZodType, title: string): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return `${JSON.stringify({ ...json, title }, null, 2)}\n`;
}

const DOCS = 'docs/scenarios.md';

const cell = (text: string) => text.replace(/\|/g, '\\|');

function factsTable(): string {
  const rows = FACT_CATALOGUE.map(
    (f) =>
      `| \`${f.name}\` | ${f.type}${f.nullable ? ' or null' : ''} | ${cell(f.description)}${
        f.values ? ` Values: ${f.values.map((v) => `\`${v}\``).join(', ')}.` : ''
      } | \`${cell(f.example)}\` |`,
  );
  return ['| fact | type | meaning | example |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function functionsTable(): string {
  const rows = FUNCTION_CATALOGUE.map(
    (f) => `| \`${f.signature}\` | ${f.returns} | ${cell(f.description)} | \`${cell(f.example)}\` |`,
  );
  return ['| function | returns | meaning | example |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** Replaces the text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`. */
function withSection(doc: string, name: string, body: string): string {
  const start = `<!-- generated:${name} (npm run scenarios:schema) -->`;
  const end = `<!-- /generated:${name} -->`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${DOCS}: markers for ${name} not found`);
  return `${doc.slice(0, from + start.length)}\n\n${body}\n\n${doc.slice(to)}`;
}

/** The doc with fresh tables, formatted as the repository's Prettier would. */
async function generatedDocs(): Promise<{ file: string; text: string }> {
  const path = resolve(DOCS);
  let doc = readFileSync(path, 'utf8');
  doc = withSection(doc, 'facts', factsTable());
  doc = withSection(doc, 'functions', functionsTable());
  const options = (await resolveConfig(path)) ?? {};
  return { file: DOCS, text: await format(doc, { ...options, parser: 'markdown' }) };
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  let stale = 0;
  const outputs = [...targets.map((t) => ({ file: t.file, text: generate(t.schema, t.title) })), await generatedDocs()];
  for (const target of outputs) {
    const path = resolve(target.file);
    const text = target.text;
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // missing: stale
      }
      if (current !== text) {
        process.stderr.write(`${target.file} is out of date: run npm run scenarios:schema\n`);
        stale += 1;
      }
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      process.stderr.write(`wrote ${target.file}\n`);
    }
  }
  return stale > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  },
);
