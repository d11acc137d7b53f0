// State the decide plugin publishes for later plugins (auditor, redactor): the outcome the decision flow chose.
import { stateKey } from '../../src/sdk/context.ts';
import type { DecisionOutcome } from './block.ts';

/** Set by decide's onRequest on every request of a policy (also in shadow mode, where it is not applied). */
export const decideKey = stateKey<DecisionOutcome>('decide');
