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

/**
 * Sets `key=` to `values` in a unit: the first `key=` line is replaced (one line per value), later ones
 * are removed. The shipped units are valid as they are; this is how the installer puts the real paths in.
 */
function setDirective(unit: string, key: string, values: string[]): string {
  const lines = unit.split('\n');
  const at = lines.findIndex((line) => line.startsWith(`${key}=`));
  if (at < 0) throw new Error(`the unit template has no ${key}= line`);
  const rest = lines.filter((line, index) => index <= at || !line.startsWith(`${key}=`));
  rest.splice(at, 1, ...values.map((value) => `${key}=${value}`));
  return rest.join('\n');
}

/** Adds `key=value` lines right after the comment block that ends with `anchor` (a commented example). */
function insertAfterComment(unit: string, anchor: RegExp, lines: string[]): string {
  if (lines.length === 0) return unit;
  const all = unit.split('\n');
  const at = all.findIndex((line) => anchor.test(line));
  if (at < 0) throw new Error(`the unit template has no line like ${anchor}`);
  all.splice(at + 1, 0, ...lines);
  return all.join('\n');
}

function execStart(paths: ProgramPaths): string {
  return `${systemdArgument(paths.node, true)} --max-semi-space-size=2 ${systemdArgument(paths.hotbridge)} run --config ${systemdArgument(paths.config)}`;
}

/** The system unit (systemd/hotbridge.service) for these paths, secrets and privileges. */
export function systemUnit(paths: ProgramPaths, options: { credentials: Credential[]; bindLowPorts: boolean }): string {
  let unit = readTemplate('hotbridge.service');
  unit = setDirective(unit, 'ExecStart', [execStart(paths)]);
  unit = insertAfterComment(
    unit,
    /^# LoadCredential=/,
    options.credentials.map((credential) => `LoadCredential=${systemdValue(credential.id)}:${systemdValue(credential.file)}`),
  );
  // An empty CapabilityBoundingSet= drops every capability; a port below 1024 needs exactly this one.
  const capabilities = options.bindLowPorts ? 'CAP_NET_BIND_SERVICE' : '';
  unit = setDirective(unit, 'CapabilityBoundingSet', [capabilities]);
  return setDirective(unit, 'AmbientCapabilities', [capabilities]);
}

/** The user unit (systemd/hotbridge-user.service). */
export function userUnit(paths: ProgramPaths): string {
  return setDirective(readTemplate('hotbridge-user.service'), 'ExecStart', [execStart(paths)]);
}

/** `yes` when the unit sets `key=yes` (or another true value, systemd.syntax(7)). */
export function unitSays(unit: string, key: string): boolean {
  return unit.split('\n').some((line) => new RegExp(`^${key}=(yes|true|on|1)\\s*$`, 'i').test(line));
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
