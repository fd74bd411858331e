import { isValidTimeZone } from './time-zone.util';

describe('isValidTimeZone', () => {
  it('accepts IANA names', () => {
    for (const zone of ['Asia/Tokyo', 'America/Los_Angeles', 'UTC', 'Etc/GMT+9', 'America/Argentina/Buenos_Aires']) {
      expect(isValidTimeZone(zone)).toBe(true);
    }
  });

  it('refuses offsets (PostgreSQL reads +09:00 as UTC-9) and unknown names', () => {
    for (const zone of ['+09:00', '+0900', '+09', '-05:00', 'Asia/Tokio', 'tokyo', '', 'Mars/Olympus']) {
      expect(isValidTimeZone(zone)).toBe(false);
    }
  });
});
