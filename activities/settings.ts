import type { AgentSettings } from '../src/agent/types';

/** The operator's durations and thresholds, read by workflows once and recorded in their history. */
export function agentSettings(deps: { settings: AgentSettings }) {
  return {
    async agentSettings(): Promise<AgentSettings> {
      return deps.settings;
    },
  };
}

export type SettingsActivities = ReturnType<typeof agentSettings>;
