import { Initial1764000000000 } from '../../migrations/1764000000000-initial';
import { Tracking1764100000000 } from '../../migrations/1764100000000-tracking';
import { Messaging1764200000000 } from '../../migrations/1764200000000-messaging';
import { EmailTracking1764300000000 } from '../../migrations/1764300000000-email-tracking';
import { UsageRollups1764400000000 } from '../../migrations/1764400000000-usage-rollups';
import { ScenarioRuntime1764500000000 } from '../../migrations/1764500000000-scenario-runtime';
import { ScenarioBenchIndexes1764600000000 } from '../../migrations/1764600000000-scenario-bench-indexes';
import { Handoffs1764700000000 } from '../../migrations/1764700000000-handoffs';
import { DeferredUsageRollups1764800000000 } from '../../migrations/1764800000000-deferred-usage-rollups';
import { CheaperEventWrites1764900000000 } from '../../migrations/1764900000000-cheaper-event-writes';
import { MessageRecipient1765000000000 } from '../../migrations/1765000000000-message-recipient';

/** Every migration, in order. `npm run migrate` and boot run the pending ones. */
export const migrations = [
  Initial1764000000000,
  Tracking1764100000000,
  Messaging1764200000000,
  EmailTracking1764300000000,
  UsageRollups1764400000000,
  ScenarioRuntime1764500000000,
  ScenarioBenchIndexes1764600000000,
  Handoffs1764700000000,
  DeferredUsageRollups1764800000000,
  CheaperEventWrites1764900000000,
  MessageRecipient1765000000000,
];
