import { join, relative, resolve } from 'node:path';
import type { Locale } from '../src/messaging/messaging.contracts';
import { formatProblem } from '../src/messaging/templates/template-catalog';
import { checkTemplates } from '../src/messaging/templates/template-check';

/**
 * `npm run templates:check [-- <dir>]`: every problem of every template as
 * `file:line: message`, exit 1 when there is any.
 */
async function main(): Promise<number> {
  const dir = resolve(process.argv[2] ?? 'templates');
  const defaultLocale: Locale = process.env.DEFAULT_LOCALE === 'en' ? 'en' : 'ja';
  const problems = await checkTemplates(dir, { defaultLocale, defaultTimeZone: process.env.DEFAULT_TIMEZONE });
  for (const problem of problems)
    console.log(formatProblem({ ...problem, file: relative(process.cwd(), join(dir, problem.file)) }));
  if (problems.length > 0) {
    console.error(`${problems.length} problem(s) in ${dir}`);
    return 1;
  }
  console.error(`templates OK (${dir})`);
  return 0;
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
