// A second route on a policy with a per-user quota (2 requests per day), to show a 429 passing through Next.
import { createPolicyGatewayRoute } from '@/app/lib/policyGatewayRoute';

export const POST = createPolicyGatewayRoute({
  apiKey: process.env.POLICY_GATEWAY_KEY,
  policyId: 'limited',
  policyUser: (request) => request.headers.get('x-session-user') ?? undefined,
});
