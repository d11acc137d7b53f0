#!/usr/bin/env node
// Entry point for the `policy-gateway` bin: Node >= 22.19 runs the TypeScript sources directly (type stripping).
import '../src/cli/main.ts';
