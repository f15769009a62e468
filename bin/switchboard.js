#!/usr/bin/env node
import { existsSync } from 'node:fs';

// A checkout runs from dist/: before the first build, say so instead of a module-not-found stack.
const entry = new URL('../dist/src/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('switchboard: not built yet: run npm run build\n');
  process.exit(2);
}
const { main } = await import(entry.href);

main(process.argv).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`switchboard: ${err instanceof Error ? err.message : String(err)}\n`); process.exitCode = 1; },
);
