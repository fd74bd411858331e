import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { toPostgresTime } from '../common/storable';
import type { DomainError, FieldIssue } from '../common/domain-error';
import { invalidInput, toFieldIssues } from '../common/zod-issues';
import {
  eventBatchEnvelopeSchema,
  eventBatchSchema,
  type EventInput,
  MAX_EVENT_AGE_DAYS,
  MAX_FUTURE_SKEW_MS,
} from './events.schemas';
import { type AppendableEventRow, EventsRepository } from './events.repository';

/** An event of the batch that was not stored, with why. */
export interface RejectedEvent {
  index: number;
  path: string;
  message: string;
}

export interface IngestResult {
  /** Events stored by this request. */
  accepted: number;
  /** Events whose id was already stored (earlier, or earlier in this batch): not stored again. */
  duplicates: number;
  /** Events naming an unknown account or contact; the rest of the batch is stored. */
  rejected: RejectedEvent[];
}

const DAY_MS = 86_400_000;

/** Product-usage events sent through the admin API. */
@Injectable()
export class EventsService {
  constructor(
    private readonly repository: EventsRepository,
    private readonly clock: Clock,
  ) {}

  /**
   * Validates the whole batch (any invalid event -> 400, nothing stored), resolves
   * every external id with one query, and stores the events with one statement.
   * Events naming unknown accounts or contacts are reported, not stored.
   */
  async ingest(body: unknown): Promise<IngestResult> {
    const now = this.clock.now();
    const receivedAt = now.toISOString();
    const events = parseBatch(body, now);

    const refs = await this.repository.resolveReferences(
      distinct(events.map((e) => e.accountExternalId)),
      distinct(events.flatMap((e) => (e.contactExternalId === undefined ? [] : [e.contactExternalId]))),
    );

    const rejected: RejectedEvent[] = [];
    const rows: AppendableEventRow[] = [];
    const seenIds = new Set<string>();
    let duplicatesInBatch = 0;
    events.forEach((event, index) => {
      const accountId = refs.accounts.get(event.accountExternalId);
      if (accountId === undefined) {
        rejected.push({
          index,
          path: `events.${index}.accountExternalId`,
          message: `no account with external id ${event.accountExternalId}`,
        });
        return;
      }
      let contactId: string | null = null;
      if (event.contactExternalId !== undefined) {
        const contact = refs.contacts.get(event.contactExternalId);
        if (contact === undefined || contact.accountId !== accountId) {
          rejected.push({
            index,
            path: `events.${index}.contactExternalId`,
            message:
              contact === undefined
                ? `no contact with external id ${event.contactExternalId}`
                : `contact ${event.contactExternalId} belongs to another account than ${event.accountExternalId}`,
          });
          return;
        }
        contactId = contact.id;
      }
      if (seenIds.has(event.id)) {
        duplicatesInBatch += 1;
        return;
      }
      seenIds.add(event.id);
      rows.push({
        type: event.type,
        // As sent when PostgreSQL reads it the same way (no Date round trip), else normalized.
        occurredAt: toPostgresTime(event.occurredAt),
        receivedAt,
        accountId,
        contactId,
        visitorId: null,
        source: 'api',
        idempotencyKey: event.id,
        props: (event.props ?? {}) as AppendableEventRow['props'],
      });
    });

    const inserted = await this.repository.appendEvents(this.repository.manager, rows);
    return {
      accepted: inserted,
      duplicates: duplicatesInBatch + rows.length - inserted,
      rejected,
    };
  }
}

/** Parses the body or throws one 400 naming every bad field, occurredAt outside the window included. */
function parseBatch(body: unknown, now: Date): EventInput[] {
  const envelope = eventBatchEnvelopeSchema.safeParse(body);
  if (!envelope.success) throw invalid(toFieldIssues(envelope.error.issues));

  const parsed = eventBatchSchema.safeParse(body);
  const issues = parsed.success ? [] : toFieldIssues(parsed.error.issues);
  const flagged = new Set(issues.map((i) => i.path));
  issues.push(...occurredAtIssues(envelope.data.events, now, flagged));
  if (!parsed.success || issues.length > 0) throw invalid(issues);
  return parsed.data.events;
}

/** occurredAt must lie within [now - MAX_EVENT_AGE_DAYS, now + MAX_FUTURE_SKEW_MS]. */
function occurredAtIssues(events: readonly unknown[], now: Date, alreadyFlagged: ReadonlySet<string>): FieldIssue[] {
  const latest = now.getTime() + MAX_FUTURE_SKEW_MS;
  const earliest = now.getTime() - MAX_EVENT_AGE_DAYS * DAY_MS;
  const issues: FieldIssue[] = [];
  events.forEach((event, index) => {
    const path = `events.${index}.occurredAt`;
    if (alreadyFlagged.has(path) || event === null || typeof event !== 'object') return;
    const value = (event as { occurredAt?: unknown }).occurredAt;
    if (typeof value !== 'string') return;
    const at = Date.parse(value);
    if (Number.isNaN(at)) return;
    if (at > latest) {
      issues.push({ path, message: `must not be more than ${MAX_FUTURE_SKEW_MS / 60_000} minutes in the future` });
    } else if (at < earliest) {
      issues.push({ path, message: `must not be more than ${MAX_EVENT_AGE_DAYS} days in the past` });
    }
  });
  return issues;
}

function invalid(issues: FieldIssue[]): DomainError {
  return invalidInput('Invalid event batch', issues);
}

function distinct(values: string[]): string[] {
  return [...new Set(values)];
}
