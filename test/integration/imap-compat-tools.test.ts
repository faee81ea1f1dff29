/**
 * The rule every compatibility test relies on (test/helpers/clients.ts): a missing client program is
 * installed outside CI and is a failure under CI, never a skip. Only the CI branch is exercised here;
 * the install branch needs a missing package and the network (it was checked by hand: removing isync
 * and running imap-compat-mbsync.test.ts installs it again).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { findTool, isCi, requireTool } from '../helpers/clients.js';

describe('requireTool', () => {
  const savedCi = process.env.CI;
  afterEach(() => {
    if (savedCi === undefined) delete process.env.CI;
    else process.env.CI = savedCi;
  });

  it('reads CI the way CI systems set it', () => {
    for (const [value, expected] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['', false],
      ['false', false],
      ['0', false],
    ] as const) {
      process.env.CI = value;
      expect({ value, ci: isCi() }).toEqual({ value, ci: expected });
    }
    delete process.env.CI;
    expect(isCi()).toBe(false);
  });

  it('finds an installed tool on PATH without installing anything', async () => {
    const sh = findTool('sh');
    expect(sh).toMatch(/\/sh$/);
    process.env.CI = 'true';
    await expect(requireTool('sh', 'dash')).resolves.toBe(sh);
  });

  it('fails (does not skip, does not install) under CI when the tool is missing', async () => {
    process.env.CI = 'true';
    expect(findTool('hotbridge-no-such-client')).toBeUndefined();
    await expect(requireTool('hotbridge-no-such-client', 'hotbridge-no-such-package')).rejects.toThrow(
      /hotbridge-no-such-client is not installed \(Debian package hotbridge-no-such-package\)\. CI is set/,
    );
  });
});
