/** Runs the CLI from source (tests): the same main() that bin/hotbridge.js runs from dist/. */
import { main } from '../../src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`hotbridge: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
