/** CSM handoffs: the shapes shared by storage, service, API, pages and notifications. */
import { HANDOFF_PRIORITY_NAMES } from '../config/config.schema';

export const HANDOFF_KINDS = ['risk', 'expansion', 'request'] as const;
export type HandoffKind = (typeof HANDOFF_KINDS)[number];

/** The one list of priorities (HANDOFF_DUE is validated against it). */
export const HANDOFF_PRIORITIES = HANDOFF_PRIORITY_NAMES;
export type HandoffPriority = (typeof HANDOFF_PRIORITIES)[number];

export const HANDOFF_STATUSES = ['open', 'acknowledged', 'resolved', 'dismissed'] as const;
export type HandoffStatus = (typeof HANDOFF_STATUSES)[number];

/** Open or acknowledged: a person is on it; automation steps aside. */
export const ACTIVE_HANDOFF_STATUSES: readonly HandoffStatus[] = ['open', 'acknowledged'];
/** The same as an SQL list, for `status IN (...)`. */
export const ACTIVE_HANDOFF_STATUSES_SQL = ACTIVE_HANDOFF_STATUSES.map((s) => `'${s}'`).join(', ');

/** Event types written for handoffs (on the account's timeline; scenarios may use them). */
export const HANDOFF_EVENT_TYPES = {
  created: 'handoff.created',
  acknowledged: 'handoff.acknowledged',
  resolved: 'handoff.resolved',
  dismissed: 'handoff.dismissed',
  escalated: 'handoff.escalated',
} as const;

/** Why and by what a handoff was raised: stored on it as given. */
interface HandoffOrigin {
  /** A code: a-z, 0-9, _ (one open handoff per account and reason). */
  reason: string;
  reasonText: string | null;
  kind: HandoffKind;
  priority: HandoffPriority;
  note: string | null;
  source: 'scenario' | 'api';
  scenarioId: string | null;
  stepId: string | null;
}

/** What raises a handoff: a scenario step, or a person through the API. */
export interface RaiseHandoff extends HandoffOrigin {
  accountId: string;
  contactId: string | null;
  enrollmentId: string | null;
  /** The scenario step occurrence (or `api:<caller key>`): raising twice with it is one raise. */
  intentKey: string | null;
}

/** A handoff raised by a person (the admin API): no scenario behind it. */
export function manualHandoff(
  input: Pick<RaiseHandoff, 'accountId' | 'contactId' | 'reason' | 'kind' | 'priority'> &
    Partial<Pick<RaiseHandoff, 'reasonText' | 'note' | 'intentKey'>>,
): RaiseHandoff {
  return {
    reasonText: null,
    note: null,
    intentKey: null,
    ...input,
    source: 'api',
    scenarioId: null,
    stepId: null,
    enrollmentId: null,
  };
}

/** The story a CSM needs, frozen when the handoff was raised. */
export interface HandoffContext {
  account: {
    externalId: string;
    name: string;
    plan: string | null;
    tier: string;
    lifecycle: string;
    daysToRenewal: number | null;
    renewalDate: string | null;
    arr: number | null;
    currency: string | null;
  };
  contact: { externalId: string; name: string | null; roles: string[] } | null;
  /** Mail of the last 30 days, newest first, with how each was engaged (human opens and clicks). */
  emails: { template: string; sentAt: string | null; status: string; opened: boolean; clicked: boolean }[];
  /** Page views of the last 30 days by site section. */
  siteVisits: { section: string; views: number; lastAt: string }[];
  /** Usage (product events, logins included) per week, oldest first, last 8 weeks. */
  usage: { weekStart: string; events: number; logins: number; activeUsers: number }[];
  /** The latest product events, newest first. */
  recentEvents: { type: string; at: string; contact: string | null }[];
}

export interface HandoffRow extends HandoffOrigin {
  id: string;
  accountId: string;
  accountExternalId: string;
  accountName: string;
  contactId: string | null;
  contactExternalId: string | null;
  status: HandoffStatus;
  csmId: string | null;
  csmExternalId: string | null;
  csmName: string | null;
  assignedVia: 'owner' | 'queue' | 'none';
  holdsMail: boolean;
  repeats: number;
  createdAt: Date;
  lastRaisedAt: Date | null;
  dueAt: Date | null;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  resolvedAt: Date | null;
  resolvedBy: string | null;
  outcome: string | null;
  dismissedAt: Date | null;
  dismissedBy: string | null;
  escalatedAt: Date | null;
  escalations: number;
  context: HandoffContext | Record<string, never>;
}

export interface HandoffHistoryEntry {
  at: Date;
  action: string;
  actor: string | null;
  detail: Record<string, unknown>;
}
