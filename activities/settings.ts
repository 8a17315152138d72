import type { AgentSettings } from '../src/agent/types';
import type { OutboundProviders } from '../src/providers/outbound';

/**
 * The operator's durations and thresholds, read by workflows once and recorded in their history,
 * with the store the shop runs when one is configured (so a workflow knows whether to ask it).
 */
export function agentSettings(deps: { settings: AgentSettings; providers?: Pick<OutboundProviders, 'shopify'> }) {
  return {
    async agentSettings(): Promise<AgentSettings> {
      const shopify = deps.providers?.shopify;
      return shopify ? { ...deps.settings, store: 'shopify', storeShops: shopify.domains } : deps.settings;
    },
  };
}

export type SettingsActivities = ReturnType<typeof agentSettings>;
