/** One event as `POST /api/events` takes it. */
export interface UsageEventBody {
  id: string;
  type: string;
  occurredAt: string;
  accountExternalId: string;
  contactExternalId?: string;
  props?: Record<string, string | number | boolean | null>;
}

export interface GenerateEventsOptions {
  /** Events fall in the 30 days before this instant (default: the current time). */
  now?: Date;
  /** Prefix of the generated event ids (default `usage`); ids are `<prefix>-<batch>-<index>`. */
  idPrefix?: string;
  /**
   * Contacts to attach, by account external id. An event of an account listed here
   * gets one of its contacts (chosen deterministically); other events have none.
   */
  contactsByAccount?: Record<string, readonly string[]>;
  /** Events fall in this many milliseconds before `now` (default: 30 days). */
  windowMs?: number;
}

const TYPES = ['login', 'feature_used', 'report_exported', 'dashboard_viewed', 'seat_added', 'api_call'] as const;
const FEATURES = ['dashboards', 'exports', 'alerts', 'sso', 'workflows', 'integrations'] as const;
const DEFAULT_WINDOW_MS = 30 * 86_400_000;

/**
 * A deterministic batch of product-usage events: the same arguments always give the
 * same events (same ids, so posting a batch twice yields duplicates). Shared by the
 * integration tests and the benchmark. Returns the request body.
 */
export function generateUsageEventsBatch(
  batchIndex: number,
  size: number,
  accountExternalIds: readonly string[],
  options: GenerateEventsOptions = {},
): { events: UsageEventBody[] } {
  if (accountExternalIds.length === 0) throw new Error('generateUsageEventsBatch needs at least one account');
  const now = (options.now ?? new Date()).getTime();
  const prefix = options.idPrefix ?? 'usage';
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const random = mulberry32(batchIndex * 0x9e3779b1 + 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const events: UsageEventBody[] = [];
  for (let i = 0; i < size; i++) {
    const account = pick(accountExternalIds);
    const contacts = options.contactsByAccount?.[account];
    const type = pick(TYPES);
    const event: UsageEventBody = {
      id: `${prefix}-${batchIndex}-${i}`,
      type,
      occurredAt: formatTime(now - 60_000 - Math.floor(random() * windowMs), i % 2 === 0 ? 'Z' : '+09:00'),
      accountExternalId: account,
    };
    if (contacts !== undefined && contacts.length > 0) event.contactExternalId = pick(contacts);
    event.props = propsFor(type, random, pick);
    events.push(event);
  }
  return { events };
}

function propsFor(
  type: (typeof TYPES)[number],
  random: () => number,
  pick: <T>(items: readonly T[]) => T,
): Record<string, string | number | boolean | null> {
  switch (type) {
    case 'login':
      return { method: pick(['password', 'sso', 'magic_link']), device: pick(['desktop', 'mobile']) };
    case 'feature_used':
      return { feature: pick(FEATURES), durationMs: Math.floor(random() * 60_000), firstTime: random() < 0.05 };
    case 'report_exported':
      return { format: pick(['csv', 'pdf', 'xlsx']), rows: Math.floor(random() * 10_000) };
    case 'dashboard_viewed':
      return { dashboard: `dash-${Math.floor(random() * 50)}`, widgets: Math.floor(random() * 20) };
    case 'seat_added':
      return { seats: 1 + Math.floor(random() * 5), role: pick(['member', 'admin']) };
    case 'api_call':
      return { endpoint: pick(['/v1/items', '/v1/orders', '/v1/users']), status: pick([200, 200, 200, 201, 404, 500]) };
  }
}

/** ISO 8601 with the given offset (`Z` or `+09:00`), as products in Japan often send. */
function formatTime(ms: number, offset: 'Z' | '+09:00'): string {
  if (offset === 'Z') return new Date(ms).toISOString();
  return new Date(ms + 9 * 3_600_000).toISOString().replace('Z', '+09:00');
}

/** Small seeded PRNG so generated data is reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
