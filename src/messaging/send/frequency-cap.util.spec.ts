import { frequencyCapUntil } from './frequency-cap.util';

const NOW = new Date('2026-11-18T02:00:00Z'); // Wednesday 11:00 in Tokyo
const caps = { advertisingPerContact7d: 3, advertisingPerAccountDay: 2 };
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

describe('frequencyCapUntil', () => {
  it('allows mail under both caps', () => {
    expect(frequencyCapUntil([hoursAgo(30), hoursAgo(60)], [hoursAgo(30)], NOW, 'Asia/Tokyo', caps)).toBeUndefined();
  });

  it('over the contact cap: allowed again when the cap-th newest send leaves the 7-day window', () => {
    const sends = [hoursAgo(24), hoursAgo(48), hoursAgo(100), hoursAgo(150)];
    const until = frequencyCapUntil(sends, [], NOW, 'Asia/Tokyo', caps);
    expect(until?.toISOString()).toBe(new Date(hoursAgo(100).getTime() + 7 * 86_400_000 + 1000).toISOString());
  });

  it('ignores sends older than seven days', () => {
    const sends = [hoursAgo(24), hoursAgo(48), hoursAgo(24 * 7 + 1)];
    expect(frequencyCapUntil(sends, [], NOW, 'Asia/Tokyo', caps)).toBeUndefined();
  });

  it('over the account cap: the start of the next local day in the recipient zone', () => {
    const today = [hoursAgo(1), hoursAgo(2)];
    expect(frequencyCapUntil([], today, NOW, 'Asia/Tokyo', caps)?.toISOString()).toBe('2026-11-18T15:00:00.000Z');
    // 02:00 UTC is 21:00 the day before in New York: both sends count for that day, midnight there is 05:00 UTC.
    expect(frequencyCapUntil([], today, NOW, 'America/New_York', caps)?.toISOString()).toBe('2026-11-18T05:00:00.000Z');
    // Sends from the recipient's previous local day do not count.
    expect(frequencyCapUntil([], [hoursAgo(12), hoursAgo(13)], NOW, 'Asia/Tokyo', caps)).toBeUndefined();
  });

  it('over both: the later of the two', () => {
    const sends = [hoursAgo(1), hoursAgo(2), hoursAgo(3)];
    const until = frequencyCapUntil(sends, sends, NOW, 'Asia/Tokyo', caps);
    expect(until?.toISOString()).toBe(new Date(hoursAgo(3).getTime() + 7 * 86_400_000 + 1000).toISOString());
  });

  it('a cap of 0 is off', () => {
    const many = Array.from({ length: 50 }, (_, i) => hoursAgo(i + 1));
    const off = { advertisingPerContact7d: 0, advertisingPerAccountDay: 0 };
    expect(frequencyCapUntil(many, many, NOW, 'Asia/Tokyo', off)).toBeUndefined();
  });
});
