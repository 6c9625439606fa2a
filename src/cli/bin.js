#!/usr/bin/env node
// The `airlock` executable: loads the TypeScript sources through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

// A reader that goes away (`airlock runs | head -2`) is not an error: stop writing, and finish quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
