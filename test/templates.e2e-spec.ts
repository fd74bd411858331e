import { Test } from '@nestjs/testing';
import { Global, Module } from '@nestjs/common';
import { join } from 'node:path';
import { Clock, ManualClock } from '../src/common/clock';
import { APP_CONFIG } from '../src/config/app-config';
import { MessageRenderer } from '../src/messaging/messaging.contracts';
import { TemplatesModule } from '../src/messaging/templates/templates.module';
import { TemplateRenderer } from '../src/messaging/templates/template-renderer';
import { testConfig } from './support/test-app';

describe('TemplatesModule', () => {
  it('provides MessageRenderer (TemplateRenderer) with every template compiled at start', async () => {
    const { config } = testConfig({
      SENDER_NAME: 'テンド株式会社',
      SENDER_POSTAL_ADDRESS: '東京都',
      SENDER_CONTACT: 'cs@tend.example',
    });
    @Global()
    @Module({
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: Clock, useValue: new ManualClock(new Date('2026-11-01T00:00:00Z')) },
      ],
      exports: [APP_CONFIG, Clock],
    })
    class Core {}
    const moduleRef = await Test.createTestingModule({
      imports: [Core, TemplatesModule.withOptions({ dir: join(process.cwd(), 'templates') })],
    }).compile();
    await moduleRef.init();
    const renderer = moduleRef.get(MessageRenderer);
    expect(renderer).toBe(moduleRef.get(TemplateRenderer));
    expect(renderer.has('onboarding/first-steps')).toBe(true);
    const m = await moduleRef
      .get(TemplateRenderer)
      .renderPreview('onboarding/first-steps', 'ja', { tracking: { opens: true, clicks: true } });
    expect(m.html).toContain('テンド株式会社');
    expect(m.html).toContain(`${config.http.publicBaseUrl}/t/c/`);
    expect(m.unsubscribeUrl.startsWith(`${config.http.publicBaseUrl}/u/`)).toBe(true);
    await moduleRef.close();
  });
});
