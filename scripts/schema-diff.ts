import 'reflect-metadata';
import { openDatabase, runMigrations } from '../src/database/data-source.factory';

/** Prints the SQL TypeORM would need to bring the migrated schema to the entities. */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const db = await openDatabase(url ? { kind: 'postgres', url, poolSize: 2 } : { kind: 'memory' });
  try {
    await runMigrations(db);
    const sql = await db.dataSource.driver.createSchemaBuilder().log();
    for (const q of sql.upQueries) console.log(`${q.query};`);
    console.error(`-- ${sql.upQueries.length} statement(s); down:`);
    for (const q of sql.downQueries.reverse()) console.error(`${q.query};`);
  } finally {
    await db.close();
  }
}
void main();
