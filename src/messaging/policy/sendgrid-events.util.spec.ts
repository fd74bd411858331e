import { mapSendgridEvent, parseSendgridEvents } from './sendgrid-events.util';

const ID = '0b8e7c1e-8a6f-4f3e-9c1a-2d3e4f5a6b7c';

describe('parseSendgridEvents', () => {
  it('reads events, our message id from custom args and the provider id prefix', () => {
    const parsed = parseSendgridEvents([
      {
        sg_event_id: 'e1',
        event: 'delivered',
        timestamp: 1793500000,
        email: 'a@b.example',
        sg_message_id: 'abc.filter0001',
        tend_message_id: ID.toUpperCase(),
      },
    ]);
    expect(parsed?.skipped).toBe(0);
    expect(parsed?.events[0]).toMatchObject({
      eventId: 'e1',
      messageId: ID,
      providerMessageId: 'abc',
      occurredAt: new Date(1793500000 * 1000),
    });
  });

  it('skips malformed entries, drops repeated ids and refuses a non-array', () => {
    const parsed = parseSendgridEvents([
      { event: 'open' },
      { sg_event_id: 'x', event: 'open' },
      { sg_event_id: 'x', event: 'open' },
      7,
    ]);
    expect(parsed?.skipped).toBe(2);
    expect(parsed?.events).toHaveLength(1);
    expect(parsed?.events[0]?.messageId).toBeNull();
    expect(parseSendgridEvents({ events: [] })).toBeNull();
  });
});

describe('mapSendgridEvent', () => {
  const event = (fields: Record<string, unknown>) => parseSendgridEvents([{ sg_event_id: 'e', ...fields }])!.events[0]!;

  it('maps a hard bounce to bounced + suppression, a blocked bounce to bounced only', () => {
    expect(mapSendgridEvent(event({ event: 'bounce', type: 'bounce' }))).toMatchObject({
      status: 'bounced',
      suppression: 'hard_bounce',
      timelineType: 'email.bounced',
    });
    expect(mapSendgridEvent(event({ event: 'bounce', type: 'blocked' }))).toMatchObject({
      status: 'bounced',
      suppression: null,
    });
  });

  it('maps complaints, unsubscribes, opens and clicks', () => {
    expect(mapSendgridEvent(event({ event: 'spamreport' }))).toMatchObject({
      status: 'complained',
      suppression: 'spam_complaint',
    });
    expect(mapSendgridEvent(event({ event: 'group_unsubscribe' }))).toMatchObject({ suppression: 'unsubscribed' });
    expect(mapSendgridEvent(event({ event: 'open', sg_machine_open: true })).props).toMatchObject({
      classification: 'machine',
    });
    expect(mapSendgridEvent(event({ event: 'click', url: 'https://x.example' }))).toMatchObject({
      timelineType: 'email.clicked',
      props: { classification: 'human', url: 'https://x.example' },
    });
    expect(mapSendgridEvent(event({ event: 'something_new' }))).toMatchObject({ status: null, timelineType: null });
  });
});
