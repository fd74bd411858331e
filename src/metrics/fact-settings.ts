import type { AppConfig } from '../config/app-config';
import type { FactSettings } from '../scenarios/core/facts/fact-context';

/** The settings facts are computed with: the configuration, and page groups from scenarios/_catalog.yaml. */
export function factSettingsFrom(
  config: Pick<AppConfig, 'facts' | 'defaults'>,
  pageGroups: Readonly<Record<string, readonly string[]>>,
): FactSettings {
  return {
    tierThresholds: config.facts.tierThresholds,
    onboardingDays: config.facts.onboardingDays,
    renewalWindowDays: config.facts.renewalWindowDays,
    defaultTimeZone: config.defaults.timeZone,
    pageGroups,
  };
}
