/**
 * Service definitions filled in from the templates shipped in systemd/ and launchd/: the real paths of
 * node, of bin/hotbridge.js and of the config replace the @...@ placeholders, each escaped for its format
 * (systemd.syntax(7) quoting and specifiers, XML in a plist). Pure functions: no file is written here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: src/cli/service/ and dist/cli/service/ are both three levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function templatePath(name: 'hotbridge.service' | 'hotbridge-user.service' | 'LaunchAgent.plist' | 'LaunchDaemon.plist'): string {
  return path.join(PACKAGE_ROOT, name.endsWith('.plist') ? 'launchd' : 'systemd', name);
}

function readTemplate(name: Parameters<typeof templatePath>[0]): string {
  return fs.readFileSync(templatePath(name), 'utf8');
}

/** What the unit runs: `<node> <hotbridge.js> run --config <config>`. */
export interface ProgramPaths {
  node: string;
  hotbridge: string;
  config: string;
}

/** A secret systemd hands to the service (`LoadCredential=ID:PATH`, systemd.exec(5) "Credentials"). */
export interface Credential {
  id: string;
  file: string;
}

/**
 * One word of an Exec line (systemd.service(5) "Command lines"), quoted when needed: `%` is doubled
 * everywhere (specifiers), `$` only after the program itself, which systemd never expands variables in.
 */
export function systemdArgument(value: string, program = false): string {
  if (/[\n\r\0]/.test(value)) throw new Error(`a path with a line break cannot go into a systemd unit: ${JSON.stringify(value)}`);
  const escaped = program ? value.replace(/%/g, '%%') : value.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (!/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A value in a plain (unsplit) setting: only specifiers need escaping. */
function systemdValue(value: string): string {
  if (/[\n\r\0]/.test(value)) throw new Error(`a path with a line break cannot go into a systemd unit: ${JSON.stringify(value)}`);
  return value.replace(/%/g, '%%');
}

function fill(template: string, values: Record<string, string>): string {
  const out = template.replace(/@([A-Z]+)@/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder ${whole} has no value`);
    return value;
  });
  return out;
}

/** The system unit (systemd/hotbridge.service) for these paths, secrets and privileges. */
export function systemUnit(paths: ProgramPaths, options: { credentials: Credential[]; bindLowPorts: boolean }): string {
  const credentialLines = options.credentials.length === 0
    ? '# (no password files in the config)'
    : options.credentials.map((credential) => `LoadCredential=${systemdValue(credential.id)}:${systemdValue(credential.file)}`).join('\n');
  return fill(readTemplate('hotbridge.service'), {
    NODE: systemdArgument(paths.node, true),
    HOTBRIDGE: systemdArgument(paths.hotbridge),
    CONFIG: systemdArgument(paths.config),
    CREDENTIALS: credentialLines,
    // An empty CapabilityBoundingSet= drops every capability; a port below 1024 needs exactly this one.
    CAPABILITIES: options.bindLowPorts ? 'CAP_NET_BIND_SERVICE' : '',
  });
}

/** The user unit (systemd/hotbridge-user.service). */
export function userUnit(paths: ProgramPaths): string {
  return fill(readTemplate('hotbridge-user.service'), {
    NODE: systemdArgument(paths.node, true),
    HOTBRIDGE: systemdArgument(paths.hotbridge),
    CONFIG: systemdArgument(paths.config),
  });
}

function xmlText(value: string): string {
  // XML 1.0 §2.2: control characters other than tab, LF and CR cannot appear at all.
  // eslint-disable-next-line no-control-regex -- finding them is the point
  if (/[\0-\x08\x0b\x0c\x0e-\x1f]/.test(value)) throw new Error(`a control character cannot go into a plist: ${JSON.stringify(value)}`);
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export const LAUNCHD_LABEL = 'local.hotbridge';

/** The LaunchAgent (per user, launchd/LaunchAgent.plist). */
export function launchAgent(paths: ProgramPaths, logFile: string): string {
  return fill(readTemplate('LaunchAgent.plist'), {
    NODE: xmlText(paths.node),
    HOTBRIDGE: xmlText(paths.hotbridge),
    CONFIG: xmlText(paths.config),
    LOG: xmlText(logFile),
  });
}

/** The LaunchDaemon (at boot, launchd/LaunchDaemon.plist), run as `user`. */
export function launchDaemon(paths: ProgramPaths, logFile: string, user: string): string {
  return fill(readTemplate('LaunchDaemon.plist'), {
    NODE: xmlText(paths.node),
    HOTBRIDGE: xmlText(paths.hotbridge),
    CONFIG: xmlText(paths.config),
    LOG: xmlText(logFile),
    USER: xmlText(user),
  });
}
