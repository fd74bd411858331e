import { resolve } from 'node:path';
import { formatIssue } from '../src/scenarios/core/yaml-source';
import { validateScenarioPaths } from '../src/scenarios/scenario-files';

/**
 * `npm run scenarios:validate [-- <files or folders>] [--templates <dir>] [--catalog <file>] [--json]`:
 * every problem of every file as `file:line:col: message`; exit 1 when there is any.
 * With no paths it validates `scenarios/`.
 */
function main(): number {
  const args = process.argv.slice(2);
  const option = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const value = args[i + 1];
    args.splice(i, 2);
    return value;
  };
  const json = args.includes('--json');
  const templatesDir = resolve(option('--templates') ?? 'templates');
  const catalogPath = option('--catalog');
  const paths = args.filter((a) => a !== '--json');
  const result = validateScenarioPaths({
    paths: paths.length > 0 ? paths : ['scenarios'],
    templatesDir,
    catalogPath,
  });
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          valid: result.issues.length === 0,
          issues: result.issues,
          scenarios: result.scenarios.map((s) => ({
            file: s.file,
            id: s.definition.id,
            version: s.versionHash,
            status: s.definition.status,
          })),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    for (const issue of result.issues) process.stdout.write(`${formatIssue(issue)}\n`);
  }
  const files = new Set(result.issues.map((i) => i.file));
  if (result.issues.length > 0) {
    process.stderr.write(`${result.issues.length} problem(s) in ${files.size} file(s)\n`);
    return 1;
  }
  process.stderr.write(`${result.scenarios.length} scenario(s) valid\n`);
  return 0;
}

process.exitCode = main();
