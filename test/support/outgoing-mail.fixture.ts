import type { OutgoingMail } from '../../src/messaging/send/outgoing-mail';

export const SAMPLE_MESSAGE_ID = '3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';

/** A Japanese lifecycle mail of realistic size, ready for buildMime or a transport. */
export function sampleOutgoingMail(overrides: Partial<OutgoingMail> = {}): OutgoingMail {
  const id = SAMPLE_MESSAGE_ID;
  return {
    messageId: id,
    messageIdHeader: `<${id}@acme.example>`,
    from: '株式会社アクメ カスタマーサクセス <cs@acme.example>',
    to: 'ichiro.sato@customer.example',
    subject: '【Acme】佐藤 一郎様、はじめの一歩：ダッシュボードの設定からチーム招待まで',
    html: `<html><body><p>佐藤様</p>${'<p>いつもご利用いただきありがとうございます。<a href="https://t.example/c/x">設定ガイド</a></p>'.repeat(80)}</body></html>`,
    text: '佐藤様\n\nいつもご利用いただきありがとうございます。\n設定ガイド [https://t.example/c/x]',
    date: new Date('2026-11-18T02:00:00Z'),
    unsubscribeUrl: `https://tend.example/u/token-${id}`,
    unsubscribeMailto: 'unsubscribe@acme.example',
    oneClick: true,
    ...overrides,
  };
}
