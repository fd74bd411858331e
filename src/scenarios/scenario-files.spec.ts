import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateScenarios, type SourceFile } from './core/scenario.validator';
import { formatIssue } from './core/yaml-source';
import { listScenarioFiles, validateScenarioPaths, validationEnvironment } from './scenario-files';

const root = process.cwd();
const brokenDir = join(root, 'test/fixtures/scenarios/broken');
const catalog: SourceFile = {
  file: 'scenarios/_catalog.yaml',
  text: readFileSync(join(root, 'scenarios/_catalog.yaml'), 'utf8'),
};

function environment() {
  const env = validationEnvironment(join(root, 'templates'));
  const templates = new Map(env.templates);
  templates.set('fixture/ja-only', ['ja']);
  return { ...env, templates };
}

/** `# expect: line:col: message` lines at the end of a fixture: exactly the problems it must produce. */
function expectations(text: string): string[] {
  return [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!);
}

describe('scenario files', () => {
  it('the starter scenarios in scenarios/ are valid', () => {
    const result = validateScenarioPaths({
      paths: [join(root, 'scenarios')],
      templatesDir: join(root, 'templates'),
      cwd: root,
    });
    expect(result.issues.map(formatIssue)).toEqual([]);
    expect(result.scenarios.map((s) => s.definition.id).sort()).toEqual(
      listScenarioFiles(join(root, 'scenarios'))
        .map((f) => f.replace(/^.*\//, '').replace('.yaml', ''))
        .sort(),
    );
    // Each starter names the JSON Schema so editors complete and check keys.
    for (const s of result.scenarios) {
      expect(readFileSync(join(root, s.file), 'utf8')).toMatch(
        /^# yaml-language-server: \$schema=\.\/_schema\/scenario\.schema\.json/,
      );
    }
  });

  const fixtures = readdirSync(brokenDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it('has at least 20 kinds of broken fixture', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(20);
  });

  it.each(fixtures)('%s reports exactly its problems, each as file:line:col: message', (name) => {
    const text = readFileSync(join(brokenDir, name), 'utf8');
    const expected = expectations(text);
    expect(expected.length).toBeGreaterThan(0);
    const result = validateScenarios([{ file: name, text }], catalog, environment());
    expect(result.issues.map(formatIssue)).toEqual(expected.map((e) => `${name}:${e}`));
    expect(result.scenarios).toEqual([]);
  });

  it('reports every problem of every file in one run, in file and line order', () => {
    const files = fixtures.map((name) => ({ file: name, text: readFileSync(join(brokenDir, name), 'utf8') }));
    const result = validateScenarios(files, catalog, environment());
    const expected = files.flatMap((f) => expectations(f.text).map((e) => `${f.file}:${e}`));
    expect(result.issues.map(formatIssue).sort()).toEqual(expected.sort());
  });

  it('a version hash ignores formatting and comments, and changes with the content', () => {
    const text = readFileSync(join(root, 'scenarios/onboarding-welcome.yaml'), 'utf8');
    const env = environment();
    const a = validateScenarios([{ file: 'onboarding-welcome.yaml', text }], catalog, env).scenarios[0];
    const reformatted = `# a comment\n${text.replace('priority: 70', 'priority:    70  # high')}`;
    const b = validateScenarios([{ file: 'onboarding-welcome.yaml', text: reformatted }], catalog, env).scenarios[0];
    const changed = text.replace('wait: 2d', 'wait: 3d');
    const c = validateScenarios([{ file: 'onboarding-welcome.yaml', text: changed }], catalog, env).scenarios[0];
    expect(a?.versionHash).toMatch(/^[0-9a-f]{16}$/);
    expect(b?.versionHash).toBe(a?.versionHash);
    expect(c?.versionHash).not.toBe(a?.versionHash);
  });

  it('reports catalogue problems with their position', () => {
    const broken: SourceFile = {
      file: '_catalog.yaml',
      text: [
        'events:',
        '  email.opened: not ours to declare',
        'segments:',
        '  busy:',
        '    when: account.logins_7d >',
        'page_groups:',
        '  pricing: [Pricing]',
      ].join('\n'),
    };
    // A mistake in one section does not hide the others: both are reported at once.
    const messages = validateScenarios([], broken, environment()).issues.map(formatIssue);
    expect(messages).toEqual([
      expect.stringMatching(/^_catalog\.yaml:2:3: 'email\.opened' is written by Tend itself/),
      expect.stringMatching(/^_catalog\.yaml:5:30: expected a value after '>'/),
      expect.stringMatching(/^_catalog\.yaml:7:13: pricing: must be a site section/),
    ]);
  });

  it('npm run scenarios:validate exits 1 and prints file:line:col lines for broken files, 0 for scenarios/', () => {
    const script = join(root, 'dist/scripts/scenarios-validate.js');
    const bad = spawnSync(process.execPath, [script, 'test/fixtures/scenarios/broken'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    const lines = bad.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(fixtures.length);
    for (const line of lines) expect(line).toMatch(/^test\/fixtures\/scenarios\/broken\/[a-z-]+\.yaml:\d+:\d+: \S/);
    expect(bad.stderr).toMatch(/problem\(s\) in \d+ file\(s\)/);
    const good = spawnSync(process.execPath, [script], { cwd: root, encoding: 'utf8' });
    expect(good.stderr).toContain('scenario(s) valid');
    expect(good.status).toBe(0);
  });
});
