import type { LinkStatus } from './visitor.entity';

export interface CurrentLink {
  contactId: string;
  status: LinkStatus;
}

export interface IncomingIdentify {
  contactId: string;
  /** `verified`: a signed identity parameter from a human email click; `unverified`: a site form. */
  method: LinkStatus;
}

export type LinkDecision =
  | { action: 'link'; status: LinkStatus }
  | { action: 'upgrade' }
  | { action: 'noop' }
  /** Keep the current link and record the conflict. */
  | { action: 'conflict' }
  /** A verified identify replaces an unverified link to someone else; the conflict is still recorded. */
  | { action: 'relink_and_record'; status: 'verified' };

/**
 * What an identify does to a visitor's link. An unverified identify never
 * overrides anything; a second contact never silently replaces the first.
 */
export function decideLink(current: CurrentLink | null, incoming: IncomingIdentify): LinkDecision {
  if (current === null) return { action: 'link', status: incoming.method };
  if (current.contactId === incoming.contactId) {
    return current.status === 'unverified' && incoming.method === 'verified'
      ? { action: 'upgrade' }
      : { action: 'noop' };
  }
  if (current.status === 'unverified' && incoming.method === 'verified') {
    return { action: 'relink_and_record', status: 'verified' };
  }
  return { action: 'conflict' };
}
