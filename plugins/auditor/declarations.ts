// What the auditor declares to the gateway: its metric. Read by the plugin definition and the audit sink.
import { defineMetrics } from '../../src/sdk/metrics.ts';

/** Every metric the auditor writes. */
export const AUDITOR_METRICS = defineMetrics({
  /** Audit records, by result: written, dropped (a stalled destination over its buffer) or error. */
  records: { type: 'counter', name: 'policy_gateway_audit_records_total', help: 'Audit records, by result (written, dropped, error).', labels: ['result'] },
});
