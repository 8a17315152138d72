import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * hookline's custom search attributes: IDs and statuses only, never personal data, because the
 * Temporal UI shows them to every operator. `npm start` registers them on the dev server; a
 * production cluster needs them registered once (see the README).
 */
export const HooklineSource = defineSearchAttributeKey('HooklineSource', SearchAttributeType.KEYWORD);
export const HooklineEventType = defineSearchAttributeKey('HooklineEventType', SearchAttributeType.KEYWORD);
/** `quarantined` for a verified event that could not be processed, then `replayed` or `discarded`. */
export const HooklineStatus = defineSearchAttributeKey('HooklineStatus', SearchAttributeType.KEYWORD);
export const HandoffStatus = defineSearchAttributeKey('HandoffStatus', SearchAttributeType.KEYWORD);
export const HandoffQueue = defineSearchAttributeKey('HandoffQueue', SearchAttributeType.KEYWORD);
export const HandoffPriority = defineSearchAttributeKey('HandoffPriority', SearchAttributeType.INT);
export const CustomerId = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [
  HooklineSource,
  HooklineEventType,
  HooklineStatus,
  HandoffStatus,
  HandoffQueue,
  HandoffPriority,
  CustomerId,
] as const;

/** The dev server's `--search-attribute Name=Type` spelling. */
export function searchAttributeFlags(): string[] {
  const spelling: Record<string, string> = {
    KEYWORD: 'Keyword',
    INT: 'Int',
    TEXT: 'Text',
    BOOL: 'Bool',
    DOUBLE: 'Double',
    DATETIME: 'Datetime',
    KEYWORD_LIST: 'KeywordList',
  };
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${spelling[key.type]}`]);
}
