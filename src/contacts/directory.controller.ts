import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, UseGuards } from '@nestjs/common';
import { ApiKeyGuard } from '../common/api-key.guard';
import type { Page } from '../common/pagination';
import { parseOrThrow } from '../common/zod-issues';
import {
  accountInputSchema,
  accountPatchSchema,
  contactInputSchema,
  contactPatchSchema,
  csmInputSchema,
  csmPatchSchema,
  externalIdSchema,
  listQuerySchema,
} from './contacts.schemas';
import type { AccountView, ContactView, CsmView } from './contacts.views';
import { DirectoryService } from './directory.service';

function idParam(value: string): string {
  return parseOrThrow(externalIdSchema, value, 'external id in the URL');
}

@Controller('api/csms')
@UseGuards(ApiKeyGuard)
export class CsmsController {
  constructor(private readonly directory: DirectoryService) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: unknown): Promise<CsmView> {
    return this.directory.createCsm(parseOrThrow(csmInputSchema, body));
  }

  @Get()
  list(@Query() query: unknown): Promise<Page<CsmView>> {
    const q = parseOrThrow(listQuerySchema, query, 'query');
    return this.directory.listCsms(q.limit, q.cursor);
  }

  @Get(':externalId')
  get(@Param('externalId') externalId: string): Promise<CsmView> {
    return this.directory.getCsm(idParam(externalId));
  }

  @Patch(':externalId')
  update(@Param('externalId') externalId: string, @Body() body: unknown): Promise<CsmView> {
    return this.directory.updateCsm(idParam(externalId), parseOrThrow(csmPatchSchema, body));
  }
}

@Controller('api/accounts')
@UseGuards(ApiKeyGuard)
export class AccountsController {
  constructor(private readonly directory: DirectoryService) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: unknown): Promise<AccountView> {
    return this.directory.createAccount(parseOrThrow(accountInputSchema, body));
  }

  @Get()
  list(@Query() query: unknown): Promise<Page<AccountView>> {
    const q = parseOrThrow(listQuerySchema, query, 'query');
    return this.directory.listAccounts(q.limit, q.cursor);
  }

  @Get(':externalId')
  get(@Param('externalId') externalId: string): Promise<AccountView> {
    return this.directory.getAccount(idParam(externalId));
  }

  @Patch(':externalId')
  update(@Param('externalId') externalId: string, @Body() body: unknown): Promise<AccountView> {
    return this.directory.updateAccount(idParam(externalId), parseOrThrow(accountPatchSchema, body));
  }
}

@Controller('api/contacts')
@UseGuards(ApiKeyGuard)
export class ContactsController {
  constructor(private readonly directory: DirectoryService) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: unknown): Promise<ContactView> {
    return this.directory.createContact(parseOrThrow(contactInputSchema, body));
  }

  @Get()
  list(@Query() query: unknown): Promise<Page<ContactView>> {
    const q = parseOrThrow(listQuerySchema, query, 'query');
    return this.directory.listContacts(q.limit, q.cursor);
  }

  @Get(':externalId')
  get(@Param('externalId') externalId: string): Promise<ContactView> {
    return this.directory.getContact(idParam(externalId));
  }

  @Patch(':externalId')
  update(@Param('externalId') externalId: string, @Body() body: unknown): Promise<ContactView> {
    return this.directory.updateContact(idParam(externalId), parseOrThrow(contactPatchSchema, body));
  }
}
