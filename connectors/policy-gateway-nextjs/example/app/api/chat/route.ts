// The quickstart route, as the product docs write it, plus the end user taken from the app's session header.
import { createPolicyGatewayRoute } from '@/app/lib/policyGatewayRoute';

export const POST = createPolicyGatewayRoute({
  apiKey: process.env.POLICY_GATEWAY_KEY,
  policyId: 'policy-gateway',
  policyProjectId: 'support-bot',
  policyUser: (request) => request.headers.get('x-session-user') ?? undefined,
});
