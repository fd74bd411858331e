/**
 * The scenario language's shape: one zod declaration gives the runtime validation,
 * the TypeScript types and the JSON Schema editors use (`npm run scenarios:schema`).
 * Expressions are strings here; the validator parses and checks them with positions.
 * PURE: no NestJS, TypeORM or filesystem.
 */
import { z } from 'zod';
import { CONTACT_ROLES, LIFECYCLE_PHASES, TIERS } from './facts/fact-context';

export const SCENARIO_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const STEP_ID_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_.]{0,63}$/;
export const TEMPLATE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*\/[a-z0-9][a-z0-9_-]*$/;

/** `30m`, `12h`, `14d`, `2w`. */
export const DURATION_PATTERN = /^([1-9][0-9]{0,4})(m|h|d|w)$/;
const LOCAL_TIME_PATTERN = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const describe = <T extends z.ZodType>(schema: T, description: string): T => schema.describe(description);

export const expressionSchema = describe(
  z.string().min(1, 'must not be empty'),
  'An expression, e.g. `account.logins_14d < 3 and account.days_since_start >= 7` (see docs/scenarios.md#expressions).',
);

export const durationSchema = describe(
  z.string().regex(DURATION_PATTERN, 'must be a duration such as 30m, 12h, 14d or 2w'),
  'A duration: a whole number followed by m (minutes), h (hours), d (days) or w (weeks).',
);

const localTimeSchema = describe(
  z.string().regex(LOCAL_TIME_PATTERN, 'must be a local time HH:MM (24-hour), e.g. 09:00'),
  "A local time, HH:MM on a 24-hour clock, in the recipient's time zone.",
);

const eventTypeSchema = describe(
  z.string().regex(EVENT_TYPE_PATTERN, 'must be an event type: a-z first, then a-z, 0-9, _ or ., up to 64 characters'),
  'An event type, e.g. `login`, `report_exported`, `integration_connected`, `site.page_viewed`.',
);

const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);

/** Matches events whose props hold these values (a list means any of them). */
const propsFilterSchema = describe(
  z.record(
    z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'must be a props key (letters, digits, _)'),
    z.union([scalarSchema, z.array(scalarSchema).min(1)]),
  ),
  'Only events whose props have these values, e.g. `{ integration: slack }` or `{ plan: [pro, enterprise] }`.',
);

const roleSchema = z.enum(CONTACT_ROLES);
const stepIdSchema = describe(
  z.string().regex(STEP_ID_PATTERN, 'must be a step id: a-z first, then a-z, 0-9, _ or -, up to 63 characters'),
  'A stable id for the step. Enrollments, reports and opened()/clicked() refer to it: do not rename a live step.',
);

/* ---------------------------------------------------------------- triggers */

const checkScheduleSchema = describe(
  z
    .string()
    .regex(
      /^(daily at ([01][0-9]|2[0-3]):[0-5][0-9]|weekdays at ([01][0-9]|2[0-3]):[0-5][0-9]|every ([1-9][0-9]{0,3})(m|h))$/,
      'must be `daily at HH:MM`, `weekdays at HH:MM` or `every <n>m|h` (e.g. every 30m)',
    ),
  "When the condition is checked, in the scenario's time zone: `daily at 09:00`, `weekdays at 09:00`, `every 1h`.",
);

const conditionTriggerSchema = z.strictObject({
  when: expressionSchema,
  check: checkScheduleSchema.default('daily at 09:00'),
});

const eventTriggerSchema = z.strictObject({
  type: eventTypeSchema,
  where: propsFilterSchema.optional(),
  count: describe(
    z.int().min(1).max(1_000_000).default(1),
    'Enter when the subject reaches this many matching events in all: 1 = the first, 100 = the 100th.',
  ),
});

const dateTriggerSchema = z.strictObject({
  fact: describe(z.string().min(1), 'A date fact, e.g. `account.renewal_date` or `account.contract_start`.'),
  offsets: describe(
    z
      .array(z.string().regex(/^[+-]?([1-9][0-9]{0,3})d$|^0d$/, 'must be a day offset such as -90d, -30d, 0d or +7d'))
      .min(1),
    'Days relative to the date: -90d is 90 days before, +7d a week after.',
  ),
  at: localTimeSchema.default('10:00'),
});

const segmentTriggerSchema = z.strictObject({
  entered: describe(z.string().min(1), 'A segment name from scenarios/_catalog.yaml.'),
  check: checkScheduleSchema.default('daily at 09:00'),
});

export const triggerSchema = describe(
  z.union([
    z.strictObject({ condition: conditionTriggerSchema }),
    z.strictObject({ event: eventTriggerSchema }),
    z.strictObject({ date: dateTriggerSchema }),
    z.strictObject({ segment: segmentTriggerSchema }),
  ]),
  'What starts a journey: exactly one of condition, event, date or segment.',
);
export const TRIGGER_KINDS = ['condition', 'event', 'date', 'segment'] as const;

/* ------------------------------------------------------------------- steps */

const recipientSchema = describe(
  z.union([
    z.literal('contact'),
    z.literal('owner'),
    z.strictObject({ role: z.union([roleSchema, z.array(roleSchema).min(1)]) }),
  ]),
  "Who receives the mail: `contact` (the enrolled contact) or `{ role: [operator, decision_maker] }` (the account's active contacts with one of these roles). `owner` is refused with a hint: the owner CSM is told through a handoff step.",
);

const waitUntilSchema = z.strictObject({
  until: describe(
    z
      .string()
      .regex(
        /^((monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekday) )?([01][0-9]|2[0-3]):[0-5][0-9]$/,
        'must be `HH:MM`, `<weekday> HH:MM` or `weekday HH:MM` (e.g. `monday 10:00`)',
      ),
    "Wait until the next such local time in the recipient's time zone: `10:00`, `monday 10:00`, `weekday 09:30` (next Monday-Friday).",
  ),
});

interface StepBase {
  id: string;
}
export interface SendStep extends StepBase {
  send: string;
  to?: 'contact' | 'owner' | { role: string | string[] } | undefined;
  data?: Record<string, string | number | boolean> | undefined;
}
export interface WaitStep extends StepBase {
  wait: string | { until: string };
}
export interface WaitForStep extends StepBase {
  wait_for: { event: string; where?: Record<string, unknown> | undefined; timeout: string };
  on_timeout?: Step[] | undefined;
}
export interface IfStep extends StepBase {
  if: string;
  then: Step[];
  else?: Step[] | undefined;
}
export interface SplitStep extends StepBase {
  split: {
    variants: { name: string; weight: number; steps: Step[] }[];
    holdout?: number | undefined;
  };
}
export interface HandoffStep extends StepBase {
  handoff: {
    to: 'owner';
    reason: string;
    kind: 'risk' | 'expansion' | 'request';
    priority: 'low' | 'normal' | 'high' | 'urgent';
    note?: string | undefined;
  };
}
export interface SetStep extends StepBase {
  set:
    | { on: 'contact' | 'account'; attribute: string; value: string | number | boolean | null }
    | { on: 'contact' | 'account'; tag: string }
    | { on: 'contact' | 'account'; untag: string };
}
export interface ExitStep extends StepBase {
  exit: string;
}
export interface GotoStep extends StepBase {
  goto: string;
}
export type Step = SendStep | WaitStep | WaitForStep | IfStep | SplitStep | HandoffStep | SetStep | ExitStep | GotoStep;

const stepsSchema = (): z.ZodType<Step[]> => z.array(stepSchema).min(1, 'must contain at least one step');

const sendStepSchema = z.strictObject({
  id: stepIdSchema,
  send: describe(
    z.string().regex(TEMPLATE_NAME_PATTERN, 'must be a template name such as onboarding/first-steps'),
    'A template under templates/ (templates/<name>/{ja,en}.mjml), e.g. `onboarding/first-steps`.',
  ),
  to: recipientSchema.optional(),
  data: describe(z.record(z.string(), scalarSchema), 'Values the template reads as `data.<key>`.').optional(),
});

const waitStepSchema = z.strictObject({
  id: stepIdSchema,
  wait: z.union([durationSchema, waitUntilSchema]),
});

const waitForStepSchema = z.strictObject({
  id: stepIdSchema,
  wait_for: z.strictObject({
    event: eventTypeSchema,
    where: propsFilterSchema.optional(),
    timeout: durationSchema,
  }),
  get on_timeout() {
    return stepsSchema().optional();
  },
});

const ifStepSchema = z.strictObject({
  id: stepIdSchema,
  if: expressionSchema,
  get then() {
    return stepsSchema();
  },
  get else() {
    return stepsSchema().optional();
  },
});

const splitStepSchema = z.strictObject({
  id: stepIdSchema,
  split: z.strictObject({
    variants: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a variant name: a-z first, then a-z, 0-9, _ or -'),
          weight: describe(z.int().min(1).max(1000), 'Relative share of the subjects that are not held out.'),
          get steps() {
            return stepsSchema();
          },
        }),
      )
      .min(1, 'must contain at least one variant'),
    holdout: describe(
      z.number().min(0).max(90),
      'Percent of subjects held out: they receive nothing from this point and are still measured against the goal.',
    ).optional(),
  }),
});

const handoffStepSchema = z.strictObject({
  id: stepIdSchema,
  handoff: z.strictObject({
    to: describe(z.literal('owner'), "The account's owner CSM (a team queue when it has none)."),
    reason: describe(
      z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a reason code: a-z first, then a-z, 0-9 or _'),
      'A reason code, e.g. `onboarding_stalled`, `expansion_ready`. One open handoff per account and reason.',
    ),
    kind: describe(
      z.enum(['risk', 'expansion', 'request']).default('risk'),
      'risk (default): the customer may leave; expansion: an opportunity; request: the customer asked for a person.',
    ),
    priority: z.enum(['low', 'normal', 'high', 'urgent']).default('normal'),
    note: z.string().max(2000).optional(),
  }),
});

const tagSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a tag: a-z or 0-9 first, then a-z, 0-9, _ or -');

const setStepSchema = z.strictObject({
  id: stepIdSchema,
  set: describe(
    z.union([
      z.strictObject({
        on: z.enum(['contact', 'account']),
        attribute: z
          .string()
          .regex(/^[A-Za-z0-9_]{1,64}$/, 'must be an attribute key (letters, digits, _)')
          .refine((key) => key !== 'tags', 'tags are set with tag: / untag:'),
        value: z.union([scalarSchema, z.null()]),
      }),
      z.strictObject({ on: z.enum(['contact', 'account']), tag: tagSchema }),
      z.strictObject({ on: z.enum(['contact', 'account']), untag: tagSchema }),
    ]),
    'Sets a custom attribute (`attribute` + `value`), adds a tag (`tag`) or removes one (`untag`).',
  ),
});

const exitStepSchema = z.strictObject({
  id: stepIdSchema,
  exit: describe(
    z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a reason code such as completed'),
    'Ends the journey with this reason.',
  ),
});

const gotoStepSchema = z.strictObject({
  id: stepIdSchema,
  goto: describe(stepIdSchema, 'Continue at the step with this id (a loop must contain a wait).'),
});

/** Step kinds in the order of the union below; a step's kind is the one action key it has. */
export const STEP_KINDS = ['send', 'wait', 'wait_for', 'if', 'split', 'handoff', 'set', 'exit', 'goto'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export const stepSchema: z.ZodType<Step> = z.union([
  sendStepSchema,
  waitStepSchema,
  waitForStepSchema,
  ifStepSchema,
  splitStepSchema,
  handoffStepSchema,
  setStepSchema,
  exitStepSchema,
  gotoStepSchema,
]);

export function stepKindOf(step: Step): StepKind {
  for (const kind of STEP_KINDS) if (kind in step) return kind;
  throw new Error('step without an action');
}

/* ---------------------------------------------------------------- scenario */

export const scenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  id: describe(
    z.string().regex(SCENARIO_ID_PATTERN, 'must be a scenario id: a-z or 0-9 first, then a-z, 0-9 or -'),
    'The scenario id; also the file name (`<id>.yaml`).',
  ),
  name: describe(z.string().min(1).max(200), 'A human name, shown in reports.'),
  description: z.string().max(4000).optional(),
  status: describe(
    z.enum(['draft', 'active', 'paused', 'archived']).default('draft'),
    'draft: validated only; active: enrolls and runs; paused: enrollments hold where they are; archived: enrollments exit (reason archived).',
  ),
  priority: describe(
    z.int().min(0).max(100).default(50),
    'When several scenarios would mail one contact at once, the higher priority goes first.',
  ),
  subject: describe(
    z.enum(['contact', 'account']).default('contact'),
    'Who enrolls: each matching contact, or each matching account (its mail goes to contacts by role or to the CSM).',
  ),
  time_zone: describe(z.string().optional(), 'IANA zone for `check` schedules; default DEFAULT_TIMEZONE.'),
  audience: z
    .strictObject({
      tier: z
        .array(z.enum(TIERS as [string, ...string[]]))
        .min(1)
        .optional(),
      lifecycle: z
        .array(z.enum(LIFECYCLE_PHASES as [string, ...string[]]))
        .min(1)
        .optional(),
      roles: describe(
        z.array(roleSchema).min(1),
        'Contact subjects only: contacts with at least one of these roles.',
      ).optional(),
      segments: describe(z.array(z.string().min(1)).min(1), 'Named segments (all must match).').optional(),
      when: expressionSchema.optional(),
    })
    .optional(),
  trigger: triggerSchema,
  entry: describe(
    z.union([
      z.strictObject({ once_per: z.enum(['contact', 'account']) }),
      z.strictObject({ again_after: durationSchema, per: z.enum(['contact', 'account']).default('contact') }),
    ]),
    'Entry policy: `{ once_per: contact }`, `{ once_per: account }`, or `{ again_after: 90d, per: contact }`.',
  ).default({ once_per: 'contact' }),
  goal: z
    .strictObject({
      when: expressionSchema,
      within: describe(durationSchema, 'The goal counts only if met this long after entry.'),
    })
    .optional(),
  exit_when: describe(
    expressionSchema,
    'Leave the journey as soon as this holds (checked before every step).',
  ).optional(),
  events: describe(
    z.array(eventTypeSchema),
    'Product event types this scenario uses that are not declared in scenarios/_catalog.yaml.',
  ).optional(),
  migrate_in_flight: describe(
    z.boolean().default(false),
    'true: enrollments move to a new version of this file by step id; false: they finish on the version they entered with.',
  ),
  during_handoff: describe(
    z.enum(['hold', 'send']).default('hold'),
    "hold (default): this scenario's advertising mail waits while the account has an open handoff; send: it goes out anyway (e.g. contractual notices).",
  ),
  steps: stepsSchema(),
});
export type ScenarioDefinition = z.infer<typeof scenarioSchema>;

/** `scenarios/_catalog.yaml`: named segments, page groups and declared product event types. */
export const catalogSchema = z.strictObject({
  $schema: z.string().optional(),
  segments: describe(
    z.record(
      z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be a segment name: a-z first, then a-z, 0-9, _ or -'),
      z.strictObject({
        description: z.string().optional(),
        scope: z.enum(['account', 'contact']).default('account'),
        when: expressionSchema,
      }),
    ),
    'Named conditions scenarios use in `audience.segments`, `segment(...)` and segment triggers.',
  ).default({}),
  page_groups: describe(
    z.record(
      z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be a page group name'),
      z
        .array(z.string().regex(/^[a-z0-9._~-]{0,64}$/, 'must be a site section: the first path segment, lowercase'))
        .min(1),
    ),
    'Page groups for `visits(group, window)`: group -> site sections (the first path segment of a page URL).',
  ).default({}),
  events: describe(
    z.record(eventTypeSchema, z.string().min(1)),
    'Product event types your product sends, each with a description.',
  ).default({}),
});
export type CatalogDefinition = z.infer<typeof catalogSchema>;

export const WEEKDAY_NAMES = WEEKDAYS;
