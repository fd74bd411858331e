/** Lower-cases and trims an address; the one normal form stored and compared. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Letters of any script: internationalized addresses (太郎@例え.jp) are addresses too. */
const emailPattern = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}/gu;
const encodedEmailPattern = /[A-Za-z0-9._%+-]+%40[A-Za-z0-9.-]+\.[A-Za-z]{2,}/gi;

/** Replaces anything that looks like an email address (plain or URL-encoded). */
export function redactEmails(text: string): string {
  return text.replace(emailPattern, '[email]').replace(encodedEmailPattern, '[email]');
}
