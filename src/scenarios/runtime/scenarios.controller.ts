import { Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { ApiKeyGuard } from '../../common/api-key.guard';
import { parseOrThrow } from '../../common/zod-issues';
import { type Explanation, ScenarioExplainer } from './scenario-explainer.service';
import { type ReloadReport, ScenarioRegistry } from './scenario-registry.service';

const explainQuerySchema = z.strictObject({
  /** The contact (contact scenarios) or account (account scenarios) external id. */
  subject: z.string().min(1).max(200),
});

/** Admin API: the loaded scenarios, reloading them, and why a subject entered or did not. */
@Controller('api/scenarios')
@UseGuards(ApiKeyGuard)
export class ScenariosController {
  constructor(
    private readonly registry: ScenarioRegistry,
    private readonly explainer: ScenarioExplainer,
  ) {}

  @Get()
  list(): { items: { id: string; version: string; status: string; subject: string; file: string }[] } {
    return {
      items: this.registry.all().map((s) => ({
        id: s.compiled.id,
        version: s.compiled.versionHash,
        status: s.compiled.definition.status,
        subject: s.compiled.definition.subject,
        file: s.file,
      })),
    };
  }

  /** Reloads this process's scenarios (workers also reload on their own when a file changes). */
  @Post('reload')
  @HttpCode(200)
  reload(): Promise<ReloadReport> {
    return this.registry.reload();
  }

  @Get(':id/explain')
  explain(@Param('id') id: string, @Query() query: unknown): Promise<Explanation> {
    return this.explainer.explain(id, parseOrThrow(explainQuerySchema, query, 'query').subject);
  }
}
