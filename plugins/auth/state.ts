// State the auth plugin publishes for later plugins (quota counts per key when a request names no user).
// Contract between plugins: set by auth's onRequest after a key is accepted.
import { stateKey } from '../../src/sdk/context.ts';

/** Who a request authenticated as. Never holds the key or its digest. */
export interface Principal {
  /** The key's public id (the 12 characters after `pgk_`). */
  readonly id: string;
  /** The key's label from the keys file (also written to the audit record as `key_label`). */
  readonly label: string;
}

/** Set by the auth plugin's onRequest when the policy has an auth block and the key was accepted. */
export const principalKey = stateKey<Principal>('auth.principal');
