import { createCarrierClient, type CarrierClient } from './carrier';
import { createCrmClient, type CrmClient } from './crm';
import type { ClientConfig } from './http';
import { createInventoryClient, type InventoryClient } from './inventory';
import { createPaymentsClient, type PaymentsClient } from './payments';
import { createWarehouseClient, type WarehouseClient } from './warehouse';

export * from './http';
export * from './crm';
export * from './carrier';
export * from './warehouse';
export * from './inventory';
export * from './payments';

/** Every outside system hookline's activities call, built once by the worker. */
export interface Clients {
  crm: CrmClient;
  carrier: CarrierClient;
  warehouse: WarehouseClient;
  inventory: InventoryClient;
  payments: PaymentsClient;
}

export interface ClientsConfig {
  crm: ClientConfig;
  carrier: ClientConfig;
  warehouse: ClientConfig;
  inventory: ClientConfig;
  payments: ClientConfig;
}

export function createClients(config: ClientsConfig): Clients {
  return {
    crm: createCrmClient(config.crm),
    carrier: createCarrierClient(config.carrier),
    warehouse: createWarehouseClient(config.warehouse),
    inventory: createInventoryClient(config.inventory),
    payments: createPaymentsClient(config.payments),
  };
}
