/**
 * `npm run admin-key [-- --revoke-others]`: makes a new admin API key.
 *
 * Embedded trial (no ADMIN_API_KEY set): the key's hash is added to
 * `$DATA_DIR/secrets.json` (with --revoke-others it replaces the others); restart
 * Tend to use it. Production: put the printed `sha256:` form in ADMIN_API_KEY.
 * The key alone goes to stdout, so `KEY=$(npm run -s admin-key)` works.
 */
import { resolve } from 'node:path';
import { addEmbeddedApiKey, generateApiKey, hashApiKey, loadDotEnv } from '../src/config/load-config';

function main(): void {
  loadDotEnv();
  const revokeOthers = process.argv.includes('--revoke-others');
  if (process.env.ADMIN_API_KEY !== undefined || process.env.DATABASE_URL !== undefined) {
    const key = generateApiKey();
    process.stderr.write(
      `New admin API key. Add its hash to ADMIN_API_KEY (comma-separated) and restart:\n  sha256:${hashApiKey(key)}\n`,
    );
    process.stdout.write(`${key}\n`);
    return;
  }
  const { key, file } = addEmbeddedApiKey(resolve(process.env.DATA_DIR ?? 'data'), revokeOthers);
  process.stderr.write(
    `New admin API key; its hash is stored in ${file}${revokeOthers ? ' and every other key is revoked' : ''}. ` +
      'Restart Tend to use it. The key is shown only now:\n',
  );
  process.stdout.write(`${key}\n`);
}

main();
