// The connector, at the path the product docs' quickstart imports it from ("@/app/lib/policyGatewayRoute").
// In your app: copy ../../../src/index.ts here, or `export * from '@policy-gateway/nextjs'` once installed.
export * from '../../../src/index.ts';
