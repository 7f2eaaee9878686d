#!/usr/bin/env node
// Entry point of `npx ctr-sync`: runs the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

// The project pins an SDK that runs on Node 20; its notice about later releases is not the operator's.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../main.ts');
process.exitCode = await main(process.argv.slice(2));
