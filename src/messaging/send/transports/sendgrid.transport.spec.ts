import { classifySendgridError } from './sendgrid.transport';

const NOW = new Date('2026-12-03T00:00:00Z');

describe('classifySendgridError', () => {
  it('retries 429 (honouring Retry-After) and 5xx, and dead-letters 400/401/403 at once', () => {
    const throttled = classifySendgridError(
      { code: 429, message: 'Too Many', response: { headers: { 'retry-after': '7' } } },
      NOW,
    );
    expect([throttled.kind, throttled.retryAfterMs]).toEqual(['retry', 7000]);
    // A 429 without a usable Retry-After still pauses sending, for a minute.
    for (const headers of [{}, { 'retry-after': 'soon' }]) {
      expect(classifySendgridError({ code: 429, message: 'Too Many', response: { headers } }, NOW).retryAfterMs).toBe(
        60_000,
      );
    }
    expect(classifySendgridError({ code: 503, message: 'Unavailable' }, NOW).retryAfterMs).toBeUndefined();
    expect(classifySendgridError({ code: 503, message: 'Unavailable' }, NOW).kind).toBe('retry');
    for (const code of [400, 401, 403])
      expect(classifySendgridError({ code, message: 'no' }, NOW).kind).toBe('permanent');
  });

  it('retries failures that never reached SendGrid: refused, no such name, untrusted TLS', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      expect([code, classifySendgridError({ code, message: code }, NOW).kind]).toEqual([code, 'retry']);
    }
  });

  it('holds for reconciliation what may have reached it: a timeout or a reset', () => {
    for (const code of ['ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', undefined]) {
      expect(classifySendgridError({ code, message: 'socket hang up' }, NOW).kind).toBe('unknown');
    }
  });

  it('keeps no recipient address in the reason it stores', () => {
    const failure = classifySendgridError(
      { code: 400, message: 'Does not contain a valid address: taro@example.jp' },
      NOW,
    );
    expect(failure.message).toBe('sendgrid 400: Does not contain a valid address: [email]');
  });
});
