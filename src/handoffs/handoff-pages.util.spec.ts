import { HandoffAccessSigner, renderDetailPage, renderListPage } from './handoff-pages.util';
import type { HandoffRow } from './handoff.types';

const CSM = '0b6c7f8e-1d2a-4c3b-9e8f-a1b2c3d4e5f6';
const NOW = new Date('2026-11-01T00:00:00Z');
const key = (kid: string, secret: string, retiredAt: Date | null = null) => ({ kid, secret, retiredAt });

describe('HandoffAccessSigner', () => {
  const signer = new HandoffAccessSigner([key('k2', 'secret-two'), key('k1', 'secret-one')], 60_000);

  it('verifies its own token until it expires, naming the CSM', () => {
    const token = signer.sign(CSM, NOW, 3_600_000);
    expect(token).not.toContain('@');
    expect(signer.verify(token, NOW)).toEqual({ csmId: CSM, exp: NOW.getTime() / 1000 + 3600 });
    expect(signer.verify(token, new Date(NOW.getTime() + 3_599_999))).not.toBeNull();
    expect(signer.verify(token, new Date(NOW.getTime() + 3_600_000))).toBeNull();
  });

  it('refuses tampered, foreign and malformed tokens', () => {
    const token = signer.sign(CSM, NOW);
    const [kid, id, exp, tag] = token.split('.') as [string, string, string, string];
    const other = new HandoffAccessSigner([key('k2', 'another-secret')], 0);
    for (const bad of [
      `${kid}.${id.replace(/^0/, '1')}.${exp}.${tag}`,
      `${kid}.${id}.${Number(exp) + 1}.${tag}`,
      `${kid}.${id}.${exp}.${tag.slice(0, -1)}A`,
      `k9.${id}.${exp}.${tag}`,
      other.sign(CSM, NOW),
      '',
      'garbage',
      undefined,
      42,
    ]) {
      expect(signer.verify(bad, NOW)).toBeNull();
    }
  });

  it('a retired key verifies for the grace period only', () => {
    const old = new HandoffAccessSigner([key('k1', 'secret-one')], 0).sign(CSM, NOW);
    const rotated = new HandoffAccessSigner([key('k2', 'secret-two'), key('k1', 'secret-one', NOW)], 60_000);
    expect(rotated.verify(old, new Date(NOW.getTime() + 59_999))).not.toBeNull();
    expect(rotated.verify(old, new Date(NOW.getTime() + 60_000))).toBeNull();
  });
});

describe('handoff pages', () => {
  const row: HandoffRow = {
    id: '11111111-2222-4333-8444-555555555555',
    accountId: 'a',
    accountExternalId: 'acme',
    accountName: '<script>alert(1)</script>',
    contactId: null,
    contactExternalId: null,
    reason: 'usage_drop',
    reasonText: '"quoted" & <b>bold</b>',
    kind: 'risk',
    priority: 'high',
    note: "it's <i>",
    source: 'api',
    scenarioId: null,
    stepId: null,
    status: 'open',
    csmId: null,
    csmExternalId: null,
    csmName: null,
    assignedVia: 'none',
    holdsMail: true,
    repeats: 0,
    createdAt: NOW,
    lastRaisedAt: NOW,
    dueAt: NOW,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    outcome: null,
    dismissedAt: null,
    dismissedBy: null,
    escalatedAt: null,
    escalations: 0,
    context: {
      account: {
        externalId: 'acme',
        name: '<img src=x>',
        plan: null,
        tier: 'gold',
        lifecycle: 'onboarding',
        daysToRenewal: 30,
        renewalDate: null,
        arr: null,
        currency: null,
      },
      contact: null,
      emails: [{ template: '<t>', sentAt: null, status: 'sent', opened: true, clicked: false }],
      siteVisits: [{ section: '<s>', views: 1, lastAt: '2026-10-30' }],
      usage: [],
      recentEvents: [],
    },
  };

  it('escapes every value, in the list and on the handoff page', () => {
    const token = 'k1.x"><script>.1.y';
    const list = renderListPage({
      locale: 'en',
      token,
      filters: { csm: '"><x', status: '', priority: '', reason: '<r>' },
      csms: [{ externalId: 'c"1', name: '<n>' }],
      items: [row],
      nextCursor: null,
    });
    const detail = renderDetailPage({ locale: 'ja', token, handoff: row, history: [], notice: null });
    for (const html of [list, detail]) {
      expect(html).not.toMatch(/<(script|b|i|img|t|s|n|r|x)[\s>]/);
      expect(html).toContain('&#60;script&#62;');
    }
    expect(detail).toContain('lang="ja"');
    expect(detail).toContain('対応を開始する');
    expect(list).toContain('Handoffs');
  });
});
