import { currencyExponent } from '../events/money';
import type { CustomerMessage } from './types';

/** How each customer message reads. Deterministic, so a retried activity renders the same text. */
export function renderCustomerMessage(message: CustomerMessage, customerName?: string): { subject: string; body: string } {
  const hello = customerName ? `Hi ${customerName.split(' ')[0]},\n\n` : '';
  // Shown with ISO 4217's decimals (src/events/money.ts), as prices are shared out: Intl's CLDR data
  // gives HUF, IDR and IQD other decimals than ISO, so a refund would be shown rounded otherwise.
  const money = (amount: number, currency: string) => `${amount.toFixed(currencyExponent(currency))} ${currency}`;
  // Without an order (a payment its gateway did not tie to one): the sentence says less, never "order undefined".
  const forOrder = (orderId: string | undefined) => (orderId ? ` for order ${orderId}` : '');
  const m = message;
  switch (m.kind) {
    case 'order-shipped': {
      const parts = [`Good news! Your order ${m.orderId} has shipped`];
      if (m.carrier) parts.push(` with ${m.carrier}`);
      if (m.trackingNumber) parts.push(`, tracking ${m.trackingNumber}`);
      parts.push('.');
      if (m.eta) parts.push(` Estimated delivery: ${formatDay(m.eta)}.`);
      return { subject: `Your order ${m.orderId} has shipped`, body: hello + parts.join('') };
    }
    case 'order-out-for-delivery':
      return {
        subject: `Your order ${m.orderId} is out for delivery`,
        body:
          `${hello}Your order ${m.orderId} is out for delivery today` +
          `${m.carrier ? ` with ${m.carrier}` : ''}${m.trackingNumber ? ` (tracking ${m.trackingNumber})` : ''}.`,
      };
    case 'order-delivered':
      return { subject: `Your order ${m.orderId} was delivered`, body: `${hello}Your order ${m.orderId} has been delivered. Enjoy!` };
    case 'order-delayed':
      return {
        subject: `Your order ${m.orderId} is delayed`,
        body:
          `${hello}We're sorry: your order ${m.orderId} is running late${m.reason ? ` (${m.reason})` : ''}.` +
          (m.eta ? ` New estimated delivery: ${formatDay(m.eta)}.` : ''),
      };
    case 'order-cancelled':
      return {
        subject: `Your order ${m.orderId} was cancelled`,
        body: `${hello}Your order ${m.orderId} has been cancelled. If you did not expect this, reply and we'll help.`,
      };
    case 'payment-confirmed':
      return {
        subject: m.orderId ? `Payment received for order ${m.orderId}` : 'Payment received',
        body: `${hello}We received your payment of ${money(m.amount, m.currency)}${forOrder(m.orderId)}. Thank you!`,
      };
    case 'payment-failed':
      return {
        subject: m.orderId ? `Payment problem with order ${m.orderId}` : 'Payment problem',
        body:
          `${hello}Your payment of ${money(m.amount, m.currency)}${forOrder(m.orderId)} did not go through` +
          `${m.reason ? ` (${m.reason})` : ''}. Please update your payment details to keep the order.`,
      };
    case 'payment-refunded':
      return {
        subject: m.orderId ? `Refund for order ${m.orderId}` : 'Your refund',
        body: `${hello}We refunded ${money(m.amount, m.currency)}${forOrder(m.orderId)}. It may take a few days to appear.`,
      };
    case 'stock-shortage':
      return {
        subject: `An item in order ${m.orderId} is out of stock`,
        body:
          `${hello}An item in your order ${m.orderId} (${m.productId}) is temporarily out of stock` +
          `${m.expectedRestockDate ? `; we expect it back on ${formatDay(m.expectedRestockDate)}` : ''}. We'll ship as soon as it arrives.`,
      };
    case 'return-label':
      return {
        subject: `Your return label for ${m.returnId}`,
        body:
          `${hello}Your return ${m.returnId} is approved. ` +
          `Print your ${m.carrier} label here: ${m.labelUrl} (tracking ${m.trackingNumber}).`,
      };
    case 'return-denied':
      return { subject: `About your return ${m.returnId}`, body: `${hello}We can't accept return ${m.returnId}: ${m.reason}.` };
    case 'return-requested':
      return {
        subject: `We received your return request ${m.returnId}`,
        body:
          `${hello}We received your request to return items from order ${m.orderId} (return ${m.returnId}). ` +
          "We'll let you know once it is reviewed.",
      };
    case 'return-approved':
      return {
        subject: `Your return ${m.returnId} is approved`,
        body: `${hello}Your return ${m.returnId} for order ${m.orderId} is approved. The store's email has your return instructions.`,
      };
    case 'return-expired':
      return {
        subject: `Your return ${m.returnId} has expired`,
        body:
          `${hello}We didn't receive return ${m.returnId} in time, so its label has been cancelled. ` +
          'Contact us if you still want to return it.',
      };
    case 'return-cancelled':
      return {
        subject: `Your return ${m.returnId} has been cancelled`,
        body:
          `${hello}Your return ${m.returnId} has been cancelled.` +
          (m.labelVoided ? ' The return label we sent you is no longer valid: please do not use it.' : '') +
          (m.parcelReceived ? ' We have received the items you sent back; a colleague will contact you about them.' : ''),
      };
    case 'return-refunded':
      return {
        subject: `Refund for return ${m.returnId}`,
        body: `${hello}We received return ${m.returnId} and refunded ${money(m.amount, m.currency)}.`,
      };
    case 'inquiry-reply':
      // The responder writes the whole reply, greeting included.
      return { subject: `Re: your inquiry ${m.inquiryId}`, body: m.text };
    case 'agent-reply':
      return { subject: `A message from our support team`, body: `${hello}${m.text}\n\n— ${m.agent}` };
  }
}

/** `2023-10-30` → `October 30th`, as in the seed's message. */
export function formatDay(value: string): string {
  const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(date.getTime())) return value;
  const month = date.toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });
  const day = date.getUTCDate();
  const suffix = day % 10 === 1 && day !== 11 ? 'st' : day % 10 === 2 && day !== 12 ? 'nd' : day % 10 === 3 && day !== 13 ? 'rd' : 'th';
  return `${month} ${day}${suffix}`;
}
