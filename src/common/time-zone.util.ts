/**
 * IANA zone names only (`Asia/Tokyo`, `UTC`). Node also accepts offsets such as `+09:00`,
 * which PostgreSQL reads the POSIX way (as UTC-9): refused so both agree on local times.
 * PURE.
 */
const ZONE_NAME = /^(UTC|GMT|[A-Z][A-Za-z_]+(\/[A-Za-z0-9_+-]+){1,2})$/;

export function isValidTimeZone(zone: string): boolean {
  if (!ZONE_NAME.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
