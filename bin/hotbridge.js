#!/usr/bin/env node
// The installed command. The code lives in dist/ (built from src/ by `npm run build`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`hotbridge: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
