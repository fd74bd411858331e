import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClaimedEnrollment } from '../src/scenarios/runtime/enrollments.repository';
import { EnrollmentsRepository } from '../src/scenarios/runtime/enrollments.repository';
import { ScenarioRegistry } from '../src/scenarios/runtime/scenario-registry.service';
import { ScenarioWorker } from '../src/scenarios/runtime/scenario-worker.service';
import { createTestApp, type TestApp } from './support/test-app';
import { testEngine } from './support/test-database';

import { journey, root, until } from './support/worker-journeys';

describe(`scenario worker settings (${testEngine()})`, () => {
  let t: TestApp | undefined;
  afterAll(() => t?.close());

  it('the worker claims SCENARIO_BATCH_SIZE due enrollments at a time under a SCENARIO_LEASE_MS lease', async () => {
    const app = await createTestApp({ SCENARIO_BATCH_SIZE: '7', SCENARIO_LEASE_MS: '5000' });
    t = app;
    const dir = app.config.scenariosDir;
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(root, 'scenarios/_catalog.yaml'), join(dir, '_catalog.yaml'));
    writeFileSync(join(dir, 'settings-check.yaml'), journey('settings-check', 'onboarding/welcome', 'checked'));
    const registry = app.app.get(ScenarioRegistry);
    const report = await registry.reload();
    expect(report.problems).toEqual([]);
    const { versionHash } = registry.active().find((s) => s.compiled.id === 'settings-check')!.compiled;

    const q = app.db.dataSource;
    await q.query(`INSERT INTO accounts (external_id, name) VALUES ('settings-a', 'settings-a')`);
    await q.query(
      `INSERT INTO contacts (account_id, external_id, email, consent_basis)
       SELECT a.id, 'settings-' || i, 'settings-' || i || '@example.com', 'existing_relationship'
         FROM accounts a, generate_series(1, 20) i WHERE a.external_id = 'settings-a'`,
    );

    // Every claim the worker makes, with the lease it wrote (read before any commit clears it).
    const repo = app.app.get(EnrollmentsRepository);
    const claimDue = repo.claimDue.bind(repo);
    const claims: { limit: number; leaseMs: number; claimed: number; leaseUntilMs: number[] }[] = [];
    const spy = jest.spyOn(repo, 'claimDue').mockImplementation(async (owner, now, leaseMs, limit, ids) => {
      const claimed: ClaimedEnrollment[] = await claimDue(owner, now, leaseMs, limit, ids);
      const leases: { lease_until: Date }[] = await q.query(
        `SELECT lease_until FROM enrollments WHERE id = ANY($1::uuid[])`,
        [claimed.map((c) => c.state.id)],
      );
      claims.push({
        limit,
        leaseMs,
        claimed: claimed.length,
        leaseUntilMs: leases.map((l) => l.lease_until.getTime() - now.getTime()),
      });
      return claimed;
    });
    try {
      // Due only now that every claim is observed (the scheduled tick may claim at once).
      await q.query(
        `INSERT INTO enrollments (id, scenario_id, version_hash, subject_kind, account_id, contact_id, entry_key,
                                  occurrence_key, state, next_run_at, entered_at)
         SELECT gen_random_uuid(), 'settings-check', $1, 'contact', c.account_id, c.id, 'contact:' || c.id, '',
                'active', $2, $2
           FROM contacts c WHERE c.external_id LIKE 'settings-%'`,
        [versionHash, app.clock.now().toISOString()],
      );
      const worker = app.app.get(ScenarioWorker);
      const pending = async () =>
        (
          await q.query<{ n: number }[]>(
            `SELECT count(*)::int AS n FROM enrollments WHERE scenario_id = 'settings-check' AND waiting IS NULL`,
          )
        )[0]!.n;
      // The scheduled tick may be the one that runs it: either way the same worker and settings.
      await until(
        async () => {
          await worker.tick();
          return (await pending()) === 0;
        },
        20_000,
        () => JSON.stringify(claims),
      );
    } finally {
      spy.mockRestore();
    }
    const working = claims.filter((c) => c.claimed > 0);
    expect(working.map((c) => c.claimed)).toEqual([7, 7, 6]);
    expect(new Set(claims.map((c) => `${c.limit}/${c.leaseMs}`))).toEqual(new Set(['7/5000']));
    expect(new Set(working.flatMap((c) => c.leaseUntilMs))).toEqual(new Set([5000]));
  });
});
