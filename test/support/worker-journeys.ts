import { join } from 'node:path';

/** The repository root (this file lives in test/support/). */
export const root = join(__dirname, '..', '..');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A contact journey: a mail, an attribute, then a long wait (each enrollment runs once here). */
export const journey = (id: string, template: string, attribute: string) => `id: ${id}
name: ${id}
status: active
trigger: { event: { type: login } }
steps:
  - { id: hello, send: ${template} }
  - { id: mark, set: { on: contact, attribute: ${attribute}, value: true } }
  - { id: pause, wait: 7d }
`;

/** Polls `check` until it holds; on timeout, fails with what `explain` says. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  explain: () => string,
  intervalMs = 100,
): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not done after ${timeoutMs} ms\n${explain()}`);
    await sleep(intervalMs);
  }
}
