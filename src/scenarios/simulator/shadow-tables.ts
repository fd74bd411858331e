import type { DataSource } from 'typeorm';

/** The runtime's own tables: the simulator gives each a private, empty twin. */
export const RUNTIME_TABLES = [
  'scenario_versions',
  'enrollments',
  'enrollment_effects',
  'handoffs',
  'scenario_checks',
  'segment_members',
] as const;

/**
 * Makes this database session a sandbox for a replay: every runtime table gets an empty
 * temporary twin with the same columns, checks, keys and index names (a session's
 * temporary tables hide the real ones of the same name), then the session turns read-only.
 * From then on the real tables (accounts, contacts, events...) can be read but any write
 * to them fails in PostgreSQL itself; writes to the twins are allowed. `release` drops
 * the twins and makes the session writable again.
 *
 * The caller must hold one session for the whole replay (a pool of one connection).
 */
export async function enterSandbox(dataSource: DataSource): Promise<{ release: () => Promise<void> }> {
  for (const table of RUNTIME_TABLES) {
    await dataSource.query(
      `CREATE TEMPORARY TABLE ${table} (LIKE public.${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
    );
    // Primary keys and unique constraints keep their names (ON CONFLICT ON CONSTRAINT uses them).
    const constraints: { name: string; definition: string }[] = await dataSource.query(
      `SELECT con.conname AS name, pg_get_constraintdef(con.oid) AS definition
         FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
         JOIN pg_namespace ns ON ns.oid = rel.relnamespace
        WHERE ns.nspname = 'public' AND rel.relname = $1 AND con.contype IN ('p', 'u')
        ORDER BY con.conname`,
      [table],
    );
    for (const c of constraints) {
      await dataSource.query(`ALTER TABLE pg_temp.${table} ADD CONSTRAINT "${c.name}" ${c.definition}`);
    }
    const indexes: { definition: string }[] = await dataSource.query(
      `SELECT i.indexdef AS definition FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = $1
          AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conname = i.indexname)
        ORDER BY i.indexname`,
      [table],
    );
    for (const index of indexes) {
      await dataSource.query(index.definition.replace(` ON public.${table} `, ` ON pg_temp.${table} `));
    }
  }
  await dataSource.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  return {
    release: async () => {
      await dataSource.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE');
      for (const table of [...RUNTIME_TABLES].reverse())
        await dataSource.query(`DROP TABLE IF EXISTS pg_temp.${table}`);
    },
  };
}
