/**
 * The seed's four senders, by name. The registry (registry.ts) says which event types each may
 * send; the receiver (src/receiver/sources.ts) says which signature scheme each uses. The names
 * sit down here so the registry can check its `sources` without knowing the receiver.
 */
export const BUILTIN_SOURCE_NAMES = ['oms', 'crm', 'payments', 'carrier'] as const;
export type BuiltinSource = (typeof BUILTIN_SOURCE_NAMES)[number];

export function isBuiltinSource(name: string): name is BuiltinSource {
  return (BUILTIN_SOURCE_NAMES as readonly string[]).includes(name);
}
