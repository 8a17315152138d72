import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';

/** Payloads from a workflow's history as values, through the client's codecs and converter (what the SDK does for results). */
export async function decodePayloads(temporal: Client, payloads: Payload[]): Promise<unknown[]> {
  const converter = temporal.options.loadedDataConverter;
  let decoded = payloads;
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return decoded.map((p) => converter.payloadConverter.fromPayload(p));
}
