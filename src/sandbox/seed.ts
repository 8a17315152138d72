import { createHash } from 'node:crypto';

/** What the sandbox CRM answers for `GET /customers/{id}/details`. */
export interface SandboxCustomer {
  customer_name: string;
  email: string;
  phone?: string;
  address?: { street1: string; city: string; state?: string; zip: string; country: string };
  last_orders: { order_id: string; status: string; date: string }[];
  previous_tickets: { ticket_id: string; subject: string; status: string }[];
}

/** Fixed customers. CUST-67890 is the seed article's Alice Smith, verbatim. */
export const SEEDED_CUSTOMERS: Readonly<Record<string, SandboxCustomer>> = {
  'CUST-67890': {
    customer_name: 'Alice Smith',
    email: 'alice@example.com',
    address: { street1: '417 Montgomery St', city: 'San Francisco', state: 'CA', zip: '94104', country: 'US' },
    last_orders: [
      { order_id: 'ORD-12345', status: 'shipped', date: '2023-10-25' },
      { order_id: 'ORD-00112', status: 'delivered', date: '2023-09-15' },
    ],
    previous_tickets: [{ ticket_id: 'TKT-001', subject: 'Return request', status: 'closed' }],
  },
  'CUST-11111': {
    customer_name: 'Bob Jones',
    email: 'bob.jones@example.com',
    phone: '+1-555-0100',
    address: { street1: '1 Main St', city: 'Austin', state: 'TX', zip: '78701', country: 'US' },
    last_orders: [{ order_id: 'ORD-20001', status: 'processing', date: '2023-10-26' }],
    previous_tickets: [],
  },
  'CUST-24680': {
    customer_name: 'Carmen Díaz',
    email: 'carmen.diaz@example.com',
    phone: '+34-600-000-123',
    address: { street1: 'Calle de Alcalá 50', city: 'Madrid', zip: '28014', country: 'ES' },
    last_orders: [
      { order_id: 'ORD-30007', status: 'delayed', date: '2023-10-20' },
      { order_id: 'ORD-29950', status: 'returned', date: '2023-08-02' },
    ],
    previous_tickets: [
      { ticket_id: 'TKT-114', subject: 'Where is my parcel?', status: 'open' },
      { ticket_id: 'TKT-087', subject: 'Refund for damaged item', status: 'closed' },
    ],
  },
  'CUST-13579': {
    customer_name: 'Deepak Rao',
    email: 'deepak.rao@example.com',
    address: { street1: '350 5th Ave', city: 'New York', state: 'NY', zip: '10118', country: 'US' },
    last_orders: [],
    previous_tickets: [],
  },
};

/**
 * Ids the sandbox makes up a customer for when they are not seeded: `CUST-` then letters and
 * digits (`CUST-1`, `CUST-A7`). Ids starting `CUST-404` are never generated, so a test can ask
 * for an unknown customer without leaving the familiar format.
 */
export const GENERATED_CUSTOMER_ID = /^CUST-[A-Z0-9]+$/;

const FIRST = [
  'Aiko',
  'Ben',
  'Chloé',
  'Dmitri',
  'Esi',
  'Farah',
  'Gabriel',
  'Hana',
  'Ivan',
  'Jun',
  'Kofi',
  'Lena',
  'Mateo',
  'Nadia',
  'Omar',
  'Priya',
];
const LAST = [
  'Andersen',
  'Brown',
  'Costa',
  'Dubois',
  'Eze',
  'Fischer',
  'García',
  'Haddad',
  'Ito',
  'Jensen',
  'Kowalski',
  'Lopez',
  'Mensah',
  'Nguyen',
  'Okafor',
  'Patel',
];
const ORDER_STATUSES = ['processing', 'shipped', 'in_transit', 'delivered', 'delivered', 'returned'];
const SUBJECTS = ['Return request', 'Where is my parcel?', 'Wrong size delivered', 'Payment declined'];

const ascii = (s: string) =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();

/**
 * The customer the sandbox CRM knows under `customerId`: a seeded one, a deterministic
 * made-up one (same id → same name, email, orders and tickets, derived from its SHA-256),
 * or `undefined` (404).
 */
export function findCustomer(customerId: string, generate: boolean): SandboxCustomer | undefined {
  const seeded = SEEDED_CUSTOMERS[customerId];
  if (seeded) return seeded;
  if (!generate || !GENERATED_CUSTOMER_ID.test(customerId) || customerId.startsWith('CUST-404')) return undefined;
  return generateCustomer(customerId);
}

export function generateCustomer(customerId: string): SandboxCustomer {
  const h = createHash('sha256').update(customerId).digest();
  const byte = (i: number) => h[i % h.length] ?? 0;
  const first = FIRST[byte(0) % FIRST.length] ?? 'Sam';
  const last = LAST[byte(1) % LAST.length] ?? 'Doe';
  const orders = Array.from({ length: 1 + (byte(2) % 3) }, (_, i) => {
    const month = 12 - i * 2 - (byte(10 + i) % 2);
    const dayOfMonth = 1 + (byte(20 + i) % 28);
    return {
      order_id: `ORD-${String(h.readUInt32BE(4 * i) % 100_000).padStart(5, '0')}`,
      status: i === 0 ? (ORDER_STATUSES[byte(3) % ORDER_STATUSES.length] ?? 'delivered') : 'delivered',
      date: `2023-${String(month).padStart(2, '0')}-${String(dayOfMonth).padStart(2, '0')}`,
    };
  });
  const tickets = Array.from({ length: byte(5) % 3 }, (_, i) => ({
    ticket_id: `TKT-${String(100 + (h.readUInt16BE(14 + 2 * i) % 900))}`,
    subject: SUBJECTS[byte(6 + i) % SUBJECTS.length] ?? 'Question',
    status: i === 0 && byte(8) % 2 === 0 ? 'open' : 'closed',
  }));
  const customer: SandboxCustomer = {
    customer_name: `${first} ${last}`,
    email: `${ascii(first)}.${ascii(last)}.${byte(9) % 100}@example.com`,
    last_orders: orders,
    previous_tickets: tickets,
    address: { street1: `${100 + byte(12)} Market St`, city: 'San Francisco', state: 'CA', zip: '94103', country: 'US' },
  };
  if (byte(7) % 2 === 0) customer.phone = `+1-555-01${String(byte(11) % 100).padStart(2, '0')}`;
  return customer;
}
