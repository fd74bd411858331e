import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/domain-error';
import type { JsonObject } from '../common/json';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination';
import { isStorableTime, toPostgresTime } from '../common/storable';
import { DirectoryService } from '../contacts/directory.service';
import type { EventSource } from './event.entity';
import type { TimelineQuery } from './events.schemas';
import { EventsRepository, type TimelineRow, type TimelineSubject } from './events.repository';

export interface TimelineItem {
  id: string;
  type: string;
  occurredAt: string;
  receivedAt: string;
  source: EventSource;
  accountExternalId: string | null;
  contactExternalId: string | null;
  visitorId: string | null;
  props: JsonObject;
}

/** Exact UTC text of occurred_at as the repository writes it into cursors. */
const occurredKeyPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const eventIdPattern = /^[1-9]\d{0,18}$/;
/** Largest event id (bigint); a 19-digit id past it would fail in the database, not here. */
const MAX_EVENT_ID = 9_223_372_036_854_775_807n;

/** Everything an account or a contact did or had happen, newest first unless asked otherwise. */
@Injectable()
export class TimelineService {
  constructor(
    private readonly repository: EventsRepository,
    private readonly directory: DirectoryService,
  ) {}

  async accountTimeline(externalId: string, query: TimelineQuery): Promise<Page<TimelineItem>> {
    const account = await this.directory.requireAccount(externalId);
    return this.page({ kind: 'account', id: account.id }, query);
  }

  async contactTimeline(externalId: string, query: TimelineQuery): Promise<Page<TimelineItem>> {
    const contact = await this.directory.requireContact(externalId);
    return this.page({ kind: 'contact', id: contact.id }, query);
  }

  private async page(subject: TimelineSubject, query: TimelineQuery): Promise<Page<TimelineItem>> {
    const rows = await this.repository.timelinePage(subject, {
      order: query.order,
      limit: query.limit,
      types: query.types,
      since: query.since === undefined ? undefined : toPostgresTime(query.since),
      until: query.until === undefined ? undefined : toPostgresTime(query.until),
      after: query.cursor === undefined ? undefined : parseTimelineCursor(query.cursor),
    });
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map(toTimelineItem),
      nextCursor: rows.length > query.limit && last ? encodeCursor([last.occurredKey, last.id]) : null,
    };
  }
}

function parseTimelineCursor(cursor: string): { occurredKey: string; id: string } {
  const [occurredKey, id] = decodeCursor(cursor, 2);
  if (
    typeof occurredKey === 'string' &&
    occurredKeyPattern.test(occurredKey) &&
    typeof id === 'string' &&
    eventIdPattern.test(id) &&
    BigInt(id) <= MAX_EVENT_ID &&
    isRealTime(occurredKey)
  ) {
    return { occurredKey, id };
  }
  throw new DomainError(ErrorCode.Invalid, 'Invalid cursor', [
    { path: 'cursor', message: 'is not a cursor this API returned' },
  ]);
}

/** A cursor time that names a real instant (month 13, day 45 or hour 99 pass the pattern only). */
function isRealTime(key: string): boolean {
  const ms = Date.parse(key);
  return isStorableTime(key) && new Date(ms).toISOString().slice(0, 23) === key.slice(0, 23);
}

function toTimelineItem(row: TimelineRow): TimelineItem {
  return {
    id: row.id,
    type: row.type,
    occurredAt: row.occurredAt.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
    source: row.source,
    accountExternalId: row.accountExternalId,
    contactExternalId: row.contactExternalId,
    visitorId: row.visitorId,
    props: row.props,
  };
}
