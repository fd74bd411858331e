import { Controller, Delete, Get, HttpCode, Param, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { ApiKeyGuard } from '../common/api-key.guard';
import { DomainError, ErrorCode } from '../common/domain-error';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination';
import { parseOrThrow } from '../common/zod-issues';
import { externalIdSchema, listQuerySchema } from '../contacts/contacts.schemas';
import { DirectoryService } from '../contacts/directory.service';
import { TrackingRepository } from './tracking.repository';

export interface VisitorLinkView {
  visitorId: string;
  linkStatus: string | null;
  linkedAt: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
}

export interface IdentityConflictView {
  id: string;
  visitorId: string;
  method: string;
  occurredAt: string;
  linkedContactExternalId: string | null;
  attemptedContactExternalId: string | null;
}

/** Admin view of visitor links: list a contact's browsers, remove a link, review conflicts. */
@Controller('api')
@UseGuards(ApiKeyGuard)
export class IdentityAdminController {
  constructor(
    private readonly repository: TrackingRepository,
    private readonly directory: DirectoryService,
  ) {}

  @Get('contacts/:externalId/visitors')
  async visitors(@Param('externalId') externalId: string): Promise<{ items: VisitorLinkView[] }> {
    const contact = await this.directory.requireContact(parseOrThrow(externalIdSchema, externalId, 'external id'));
    const rows = await this.repository.visitorsOfContact(contact.id);
    return {
      items: rows.map((r) => ({
        visitorId: r.visitorId,
        linkStatus: r.linkStatus,
        linkedAt: r.linkedAt?.toISOString() ?? null,
        firstSeenAt: r.firstSeenAt.toISOString(),
        lastSeenAt: r.lastSeenAt.toISOString(),
      })),
    };
  }

  @Delete('visitors/:visitorId/link')
  @HttpCode(204)
  async unlink(@Param('visitorId') visitorId: string): Promise<void> {
    const id = parseOrThrow(z.uuid('must be a visitor id'), visitorId, 'visitor id');
    if (!(await this.repository.unlinkVisitor(id))) {
      throw new DomainError(ErrorCode.NotFound, 'No linked visitor with that id');
    }
  }

  @Get('identity-conflicts')
  async conflicts(@Query() query: unknown): Promise<Page<IdentityConflictView>> {
    const q = parseOrThrow(listQuerySchema, query, 'query');
    const after = q.cursor === undefined ? undefined : String(decodeCursor(q.cursor, 1)[0]);
    const rows = await this.repository.conflictsPage(after, q.limit);
    const items = rows.map((r) => ({
      id: String(r.id),
      visitorId: r.visitor_id,
      method: r.method,
      occurredAt: r.occurred_at.toISOString(),
      linkedContactExternalId: r.linked_contact,
      attemptedContactExternalId: r.attempted_contact,
    }));
    const last = items.at(-1);
    return { items, nextCursor: items.length === q.limit && last ? encodeCursor([last.id]) : null };
  }
}
