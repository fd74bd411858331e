import { Initial1764000000000 } from '../../migrations/1764000000000-initial';
import { Tracking1764100000000 } from '../../migrations/1764100000000-tracking';
import { Messaging1764200000000 } from '../../migrations/1764200000000-messaging';
import { EmailTracking1764300000000 } from '../../migrations/1764300000000-email-tracking';
import { UsageRollups1764400000000 } from '../../migrations/1764400000000-usage-rollups';
import { ScenarioRuntime1764500000000 } from '../../migrations/1764500000000-scenario-runtime';

/** Every migration, in order. `npm run migrate` and boot run the pending ones. */
export const migrations = [
  Initial1764000000000,
  Tracking1764100000000,
  Messaging1764200000000,
  EmailTracking1764300000000,
  UsageRollups1764400000000,
  ScenarioRuntime1764500000000,
];
