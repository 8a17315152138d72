import type { IAddress, IPostageLabel, IRate, IShipment, ITracker } from '@easypost/api';
import { z } from 'zod';

/**
 * SANDBOX: a stand-in for the part of EasyPost's API the agent uses, at `<sandbox>/easypost/v2/…`:
 * return shipments (created, then bought by id, then voided with a refund) and trackers. Bodies are
 * EasyPost's JSON (`{shipment: {...}}`), answers shaped as EasyPost's objects (typed with the
 * `@easypost/api` package's types) and errors as EasyPost's `{error: {code, message, errors}}`.
 * As EasyPost, it takes no idempotency key: a shipment bought once is refused a second purchase,
 * which is why the client asks the shipment before it buys.
 */

type Shipment = Pick<
  IShipment,
  'id' | 'object' | 'mode' | 'reference' | 'is_return' | 'status' | 'tracking_code' | 'refund_status' | 'created_at' | 'updated_at'
> & {
  to_address: Partial<IAddress>;
  from_address: Partial<IAddress>;
  parcel: { id: string; object: 'Parcel'; weight: number };
  rates: Pick<IRate, 'id' | 'object' | 'carrier' | 'service' | 'rate' | 'currency' | 'shipment_id'>[];
  selected_rate: Pick<IRate, 'id' | 'object' | 'carrier' | 'service' | 'rate' | 'currency' | 'shipment_id'> | null;
  postage_label: Pick<IPostageLabel, 'id' | 'object' | 'label_url' | 'label_file_type'> | null;
  tracker: Pick<ITracker, 'id' | 'object' | 'tracking_code' | 'carrier' | 'status'> | null;
};
type Tracker = Pick<ITracker, 'id' | 'object' | 'mode' | 'tracking_code' | 'carrier' | 'status' | 'created_at'>;

export interface EasyPostSandboxState {
  shipments: Shipment[];
  trackers: Tracker[];
  /** Every purchase made, in order: a shipment bought twice would show twice. */
  purchases: { shipment_id: string; rate_id: string; at: string }[];
}

export interface EasyPostReply {
  status: number;
  body: unknown;
}

const Address = z.object({
  street1: z.string().min(1),
  street2: z.string().optional(),
  city: z.string().min(1),
  state: z.string().optional(),
  zip: z.string().min(1),
  country: z.string().length(2),
  name: z.string().optional(),
  company: z.string().optional(),
  phone: z.string().optional(),
  email: z.string().optional(),
});
const AddressRef = z.union([z.object({ id: z.string().regex(/^adr_/) }).strict(), Address]);
const CreateShipment = z.object({
  shipment: z.object({
    is_return: z.boolean().optional(),
    to_address: AddressRef,
    from_address: AddressRef,
    parcel: z.object({ weight: z.number().positive() }),
    reference: z.string().optional(),
  }),
});
const Buy = z.object({ rate: z.object({ id: z.string().min(1) }) });
const CreateTracker = z.object({ tracker: z.object({ tracking_code: z.string().min(1), carrier: z.string().min(1).optional() }) });

const easypostError = (status: number, code: string, message: string, errors: unknown[] = []): EasyPostReply => ({
  status,
  body: { error: { code, message, errors } },
});

/** The shop's return address every sandbox account has, as EasyPost's dashboard would hold it. */
export const SANDBOX_RETURN_ADDRESS_ID = 'adr_sandboxwarehouse';
const RETURN_ADDRESS: Partial<IAddress> = {
  id: SANDBOX_RETURN_ADDRESS_ID,
  object: 'Address',
  name: 'hookline returns',
  street1: '1 Warehouse Way',
  city: 'Reno',
  state: 'NV',
  zip: '89501',
  country: 'US',
};

/** The mode a key's objects are made in: a production key's (`EZAK…`) in production, any other's (`EZTK…`, or none) in test. */
const modeOf = (apiKey: string | null): 'test' | 'production' => (apiKey?.startsWith('EZAK') ? 'production' : 'test');

export function createEasyPostSandbox(now: () => Date) {
  const state: EasyPostSandboxState = { shipments: [], trackers: [], purchases: [] };
  const counters = { shipment: 0, tracker: 0, rate: 0 };
  const id = (prefix: string, n: number) => `${prefix}_sandbox${String(n).padStart(6, '0')}`;
  const at = () => now().toISOString();

  const address = (ref: z.output<typeof AddressRef>): Partial<IAddress> | undefined =>
    'id' in ref ? (ref.id === SANDBOX_RETURN_ADDRESS_ID ? RETURN_ADDRESS : undefined) : { object: 'Address', ...ref };

  /** `apiKey`: the key it was asked with; as EasyPost, a production key (`EZAK…`) makes production objects, any other test ones. */
  function createShipment(body: unknown, apiKey: string | null = null): EasyPostReply {
    const parsed = CreateShipment.safeParse(body);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
      return easypostError(422, 'PARAMETER.INVALID', 'The request could not be processed.', errors);
    }
    const s = parsed.data.shipment;
    const to = address(s.to_address);
    const from = address(s.from_address);
    if (!to || !from) return easypostError(404, 'ADDRESS.NOT_FOUND', 'The requested resource could not be found.');
    const shipmentId = id('shp', ++counters.shipment);
    const rate = (carrier: string, service: string, amount: string) => ({
      id: id('rate', ++counters.rate),
      object: 'Rate' as const,
      carrier,
      service,
      rate: amount,
      currency: 'USD',
      shipment_id: shipmentId,
    });
    const shipment: Shipment = {
      id: shipmentId,
      object: 'Shipment',
      mode: modeOf(apiKey),
      reference: s.reference ?? '',
      is_return: s.is_return ?? false,
      status: 'unknown',
      tracking_code: null as unknown as string,
      refund_status: null as unknown as IShipment['refund_status'],
      created_at: at(),
      updated_at: at(),
      // A return swaps the addresses: the label runs from the customer back to the shop.
      to_address: s.is_return ? from : to,
      from_address: s.is_return ? to : from,
      parcel: { id: id('prcl', counters.shipment), object: 'Parcel', weight: s.parcel.weight },
      rates: [rate('USPS', 'GroundAdvantage', '6.07'), rate('USPS', 'Priority', '8.24'), rate('UPS', 'Ground', '9.51')],
      selected_rate: null,
      postage_label: null,
      tracker: null,
    };
    state.shipments.push(shipment);
    return { status: 201, body: shipment };
  }

  // As EasyPost, each mode sees only its own objects: a test key finds no production shipment, and the other way round.
  const find = (shipmentId: string, apiKey: string | null) => state.shipments.find((s) => s.id === shipmentId && s.mode === modeOf(apiKey));
  const notFound = () => easypostError(404, 'NOT_FOUND', 'The requested resource could not be found.');

  function buy(shipmentId: string, body: unknown, origin: string, apiKey: string | null = null): EasyPostReply {
    const shipment = find(shipmentId, apiKey);
    if (!shipment) return notFound();
    const parsed = Buy.safeParse(body);
    if (!parsed.success) return easypostError(422, 'PARAMETER.REQUIRED', 'Missing required parameter: rate.');
    if (shipment.postage_label) return easypostError(422, 'SHIPMENT.POSTAGE.EXISTS', 'Postage already exists for this shipment.');
    const rate = shipment.rates.find((r) => r.id === parsed.data.rate.id);
    if (!rate) return easypostError(422, 'SHIPMENT.RATE.NOT_FOUND', 'The rate could not be found for this shipment.');
    const trackingCode = `9400100000000000${String(counters.shipment).padStart(6, '0')}`;
    shipment.selected_rate = rate;
    shipment.tracking_code = trackingCode;
    shipment.postage_label = {
      id: id('pl', counters.shipment),
      object: 'PostageLabel',
      label_url: `${origin}/easypost/labels/${shipment.id}.png`,
      label_file_type: 'image/png',
    };
    shipment.tracker = {
      id: id('trk', ++counters.tracker),
      object: 'Tracker',
      tracking_code: trackingCode,
      carrier: rate.carrier,
      status: 'pre_transit',
    };
    shipment.updated_at = at();
    state.purchases.push({ shipment_id: shipment.id, rate_id: rate.id, at: at() });
    return { status: 200, body: shipment };
  }

  function refund(shipmentId: string, apiKey: string | null = null): EasyPostReply {
    const shipment = find(shipmentId, apiKey);
    if (!shipment) return notFound();
    if (!shipment.postage_label) return easypostError(422, 'SHIPMENT.REFUND.UNAVAILABLE', 'The shipment has no postage to refund.');
    if (shipment.refund_status)
      return easypostError(422, 'SHIPMENT.REFUND.EXISTS', 'A refund has already been submitted for this shipment.');
    shipment.refund_status = 'submitted';
    shipment.updated_at = at();
    return { status: 200, body: shipment };
  }

  function createTracker(body: unknown): EasyPostReply {
    const parsed = CreateTracker.safeParse(body);
    if (!parsed.success) return easypostError(422, 'PARAMETER.REQUIRED', 'Missing required parameter: tracking_code.');
    const tracker: Tracker = {
      id: id('trk', ++counters.tracker),
      object: 'Tracker',
      mode: 'test',
      tracking_code: parsed.data.tracker.tracking_code,
      carrier: parsed.data.tracker.carrier ?? 'USPS',
      status: 'pre_transit',
      created_at: at(),
    };
    state.trackers.push(tracker);
    return { status: 201, body: tracker };
  }

  return {
    state,
    createShipment,
    shipment: (shipmentId: string, apiKey: string | null = null): EasyPostReply => {
      const shipment = find(shipmentId, apiKey);
      return shipment ? { status: 200, body: shipment } : notFound();
    },
    buy,
    refund,
    createTracker,
    me: (): EasyPostReply => ({ status: 200, body: { id: 'user_sandbox', object: 'User', name: 'hookline sandbox' } }),
    reset: () => {
      state.shipments.length = 0;
      state.trackers.length = 0;
      state.purchases.length = 0;
      counters.shipment = counters.tracker = counters.rate = 0;
    },
  };
}

export type EasyPostSandbox = ReturnType<typeof createEasyPostSandbox>;
