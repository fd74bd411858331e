/**
 * Event types Tend writes itself. Scenarios may trigger on them, wait for them and count
 * them without declaring them. `handoff.*` arrive with CSM handoffs.
 */
export const BUILT_IN_EVENT_TYPES: readonly string[] = [
  'email.sent',
  'email.processed',
  'email.delivered',
  'email.deferred',
  'email.bounced',
  'email.dropped',
  'email.dead',
  'email.suppressed',
  'email.opened',
  'email.clicked',
  'email.complained',
  'email.unsubscribed',
  'email.preferences_changed',
  'site.page_viewed',
];
