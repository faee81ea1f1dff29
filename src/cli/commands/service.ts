/**
 * `hotbridge service install|uninstall [--user|--system] [--dry-run]`: writes the systemd unit (Linux) or
 * launchd plist (macOS) with the real paths of node, hotbridge and the config, then enables and starts it.
 * Everything it would do is first put into a plan (files and commands), so `--dry-run` prints exactly what
 * an install does, and tests check the plan without touching the machine.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HotbridgeConfig } from '../../config/types.js';
import { writeFileAtomic } from '../../runtime/files.js';
import { configFileFrom, loadConfigOrExplain, UserError } from '../config-option.js';
import { LAUNCHD_LABEL, launchAgent, launchDaemon, PACKAGE_ROOT, systemUnit, userUnit, type Credential, type ProgramPaths } from '../service/units.js';

export type ServiceAction = 'install' | 'uninstall';
export type ServiceScope = 'user' | 'system';
export type ServicePlatform = 'linux' | 'darwin';

export interface PlannedCommand {
  argv: string[];
  /** A failure is expected when there is nothing to undo (stopping a service that is not loaded). */
  mayFail?: boolean;
}

export interface PlannedFile {
  path: string;
  content: string;
  mode: number;
}

export interface ServicePlan {
  platform: ServicePlatform;
  scope: ServiceScope;
  action: ServiceAction;
  /** Directories to create first (mkdir -p). */
  directories: string[];
  /** Commands before the file is written or removed (creating the service user, opening the config to it). */
  before: PlannedCommand[];
  write?: PlannedFile;
  remove?: string;
  /** Commands after (daemon-reload, enable and start, launchctl bootstrap). */
  after: PlannedCommand[];
  /** Said at the end, in plain words. */
  notes: string[];
}

/** Where the system service keeps its data: systemd's StateDirectory=hotbridge. */
export const SYSTEM_DATA_DIR = '/var/lib/hotbridge';
const SERVICE_USER = 'hotbridge';
const UNIT_NAME = 'hotbridge.service';

export interface PlanInput {
  platform: ServicePlatform;
  scope: ServiceScope;
  action: ServiceAction;
  /** Needed to install; an uninstall works even when the config is gone or broken. */
  config?: HotbridgeConfig;
  paths: ProgramPaths;
  home: string;
  uid: number;
  /** Name of the user owning the config (LaunchDaemon's UserName). */
  configOwner: string;
}

function keptNote(input: PlanInput): string {
  return input.config
    ? `Your config (${input.config.file}) and your mail (${input.config.dataDir}) are still there.`
    : `Your config (${input.paths.config}) and your mail are still there.`;
}

function needConfig(input: PlanInput): HotbridgeConfig {
  if (!input.config) throw new UserError(`installing a service needs a working config (${input.paths.config})`, 2);
  return input.config;
}

/** ProtectHome= makes /home, /root and /run/user invisible to the system service. */
function underHome(file: string): boolean {
  return /^\/(home|root|run\/user)(\/|$)/.test(file);
}

/** The ports below 1024 need CAP_NET_BIND_SERVICE (capabilities(7)). */
function listensBelow1024(config: HotbridgeConfig): boolean {
  const tables = [config.imap, config.smtp, config.pop3];
  return [...tables.flatMap((table) => [...table.listen, ...table.tlsListen]), ...config.status.listen].some((address) => address.port > 0 && address.port < 1024);
}

/** One credential per password file, named after the file (the daemon looks it up by that name). */
function credentialsOf(config: HotbridgeConfig): Credential[] {
  const credentials: Credential[] = [];
  for (const account of config.accounts) {
    if (account.auth.method !== 'password' || !account.auth.passwordFile) continue;
    const file = account.auth.passwordFile;
    const id = path.basename(file);
    if (id.includes(':') || id === '.' || id === '..') {
      throw new UserError(`the password file name ${id} cannot be a systemd credential name (no ":"): rename ${file}`, 2);
    }
    const clash = credentials.find((credential) => credential.id === id && credential.file !== file);
    if (clash) {
      throw new UserError(`two password files are both named ${id} (${clash.file} and ${file}); the service tells them apart by name: rename one`, 2);
    }
    if (!credentials.some((credential) => credential.id === id)) credentials.push({ id, file });
  }
  return credentials;
}

/** `restart` rather than `enable --now`: a reinstall must replace a running daemon started from the old unit. */
function enableAndStart(systemctl: string[]): PlannedCommand[] {
  return [{ argv: [...systemctl, 'daemon-reload'] }, { argv: [...systemctl, 'enable', UNIT_NAME] }, { argv: [...systemctl, 'restart', UNIT_NAME] }];
}

function systemdPlan(input: PlanInput): ServicePlan {
  const { scope, action, paths, home } = input;
  const plan: ServicePlan = { platform: 'linux', scope, action, directories: [], before: [], after: [], notes: [] };
  const systemctl = scope === 'user' ? ['systemctl', '--user'] : ['systemctl'];
  const unitDir = scope === 'user' ? path.join(process.env.XDG_CONFIG_HOME || path.join(home, '.config'), 'systemd', 'user') : '/etc/systemd/system';
  const unitFile = path.join(unitDir, UNIT_NAME);

  if (action === 'uninstall') {
    plan.before.push({ argv: [...systemctl, 'disable', '--now', UNIT_NAME], mayFail: true });
    plan.remove = unitFile;
    plan.after.push({ argv: [...systemctl, 'daemon-reload'] });
    plan.notes.push(keptNote(input));
    if (scope === 'system') plan.notes.push(`The user "${SERVICE_USER}" is kept; remove it with: userdel ${SERVICE_USER}`);
    return plan;
  }

  const config = needConfig(input);
  if (scope === 'user') {
    plan.directories.push(unitDir);
    plan.write = { path: unitFile, content: userUnit(paths), mode: 0o644 };
    plan.after.push(...enableAndStart(systemctl));
    plan.notes.push(`hotbridge now starts when you log in. To keep it running while you are logged out: loginctl enable-linger ${os.userInfo().username}`);
    plan.notes.push('Logs: journalctl --user -u hotbridge   Status: hotbridge status');
    return plan;
  }

  // The system service runs as its own user behind ProtectHome=, with its state in /var/lib/hotbridge.
  const hidden = [
    ['the config', paths.config],
    ['node', paths.node],
    ['hotbridge', paths.hotbridge],
    ...credentialsOf(config).map((credential) => ['the password file', credential.file]),
  ].find(([, file]) => underHome(file));
  if (hidden) {
    const [what, file] = hidden;
    throw new UserError(
      `${what} is at ${file}, inside a home directory, which the system service cannot see (ProtectHome=yes). ` +
        (what === 'the config' || what === 'the password file'
          ? 'Set up a system-wide config with: sudo hotbridge setup --config /etc/hotbridge/config.toml — or run hotbridge as your user: hotbridge service install --user'
          : `Install ${what} system-wide (for example under /usr or /opt), or run hotbridge as your user: hotbridge service install --user`),
      2,
    );
  }
  if (path.resolve(config.dataDir) !== SYSTEM_DATA_DIR) {
    throw new UserError(
      `the system service keeps its data in ${SYSTEM_DATA_DIR} (StateDirectory=), but ${config.file} says data_dir = "${config.dataDir}": ` +
        `set data_dir = "${SYSTEM_DATA_DIR}" (move the old data dir there first if it holds mail)`,
      2,
    );
  }
  const configDir = path.dirname(paths.config);
  plan.before.push({
    argv: ['sh', '-c', `id -u ${SERVICE_USER} >/dev/null 2>&1 || useradd --system --user-group --home-dir ${SYSTEM_DATA_DIR} --no-create-home --shell /usr/sbin/nologin ${SERVICE_USER}`],
  });
  // The service user reads the config (not the password files: those come as credentials). Only a
  // directory of hotbridge's own is opened to it, never a shared one such as /etc.
  if (path.basename(configDir).includes('hotbridge')) {
    plan.before.push({ argv: ['chgrp', SERVICE_USER, configDir, paths.config] }, { argv: ['chmod', '0750', configDir] });
  } else {
    plan.before.push({ argv: ['chgrp', SERVICE_USER, paths.config] });
  }
  plan.before.push({ argv: ['chmod', '0640', paths.config] });
  plan.write = { path: unitFile, content: systemUnit(paths, { credentials: credentialsOf(config), bindLowPorts: listensBelow1024(config) }), mode: 0o644 };
  plan.after.push(...enableAndStart(systemctl));
  plan.notes.push('hotbridge now starts at boot. Logs: journalctl -u hotbridge   Status: sudo hotbridge status --config ' + paths.config);
  plan.notes.push('After editing the config: sudo systemctl reload hotbridge (a changed password file needs: sudo systemctl restart hotbridge)');
  // Files written by root in the state directory would be unreadable to the service user.
  plan.notes.push(`Sign in and set local passwords as the service user: sudo -u ${SERVICE_USER} hotbridge login ADDRESS --config ${paths.config}`);
  return plan;
}

function launchdPlan(input: PlanInput): ServicePlan {
  const { scope, action, paths, home, uid } = input;
  const plan: ServicePlan = { platform: 'darwin', scope, action, directories: [], before: [], after: [], notes: [] };
  const domain = scope === 'user' ? `gui/${uid}` : 'system';
  const plistDir = scope === 'user' ? path.join(home, 'Library', 'LaunchAgents') : '/Library/LaunchDaemons';
  const plistFile = path.join(plistDir, `${LAUNCHD_LABEL}.plist`);
  const logDir = scope === 'user' ? path.join(home, 'Library', 'Logs', 'hotbridge') : '/Library/Logs/hotbridge';
  const logFile = path.join(logDir, 'hotbridge.log');
  const bootout: PlannedCommand = { argv: ['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`], mayFail: true };

  if (action === 'uninstall') {
    plan.before.push(bootout);
    plan.remove = plistFile;
    plan.notes.push(`${keptNote(input)} So is the log: ${logFile}`);
    return plan;
  }
  needConfig(input);
  plan.directories.push(plistDir, logDir);
  if (scope === 'system') plan.before.push({ argv: ['chown', input.configOwner, logDir] });
  // A job already loaded must go first: bootstrap refuses a label that is in use.
  plan.before.push(bootout);
  plan.write = {
    path: plistFile,
    content: scope === 'user' ? launchAgent(paths, logFile) : launchDaemon(paths, logFile, input.configOwner),
    mode: 0o644,
  };
  plan.after.push({ argv: ['launchctl', 'enable', `${domain}/${LAUNCHD_LABEL}`] }, { argv: ['launchctl', 'bootstrap', domain, plistFile] });
  plan.notes.push(scope === 'user' ? 'hotbridge now starts when you log in.' : `hotbridge now starts at boot, as ${input.configOwner}.`);
  plan.notes.push(`Log: ${logFile}   Status: hotbridge status --config ${paths.config}`);
  return plan;
}

/** What `service install|uninstall` does on this platform and scope; throws UserError when it cannot work. */
export function planService(input: PlanInput): ServicePlan {
  return input.platform === 'linux' ? systemdPlan(input) : launchdPlan(input);
}

function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

function ownerName(file: string): string {
  const uid = fs.statSync(file).uid;
  if (uid === process.getuid?.()) return os.userInfo().username;
  if (process.env.SUDO_UID === String(uid) && process.env.SUDO_USER) return process.env.SUDO_USER;
  const result = spawnSync('id', ['-nu', String(uid)], { encoding: 'utf8' });
  const name = result.status === 0 ? result.stdout.trim() : '';
  if (!name) throw new UserError(`cannot find the name of user ${uid}, the owner of ${file}`, 2);
  return name;
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function describePlan(plan: ServicePlan, out: NodeJS.WritableStream): void {
  for (const dir of plan.directories) out.write(`Would create the directory ${dir}\n`);
  const run = (commands: PlannedCommand[]) => {
    for (const command of commands) out.write(`Would run: ${command.argv.map(shellWord).join(' ')}${command.mayFail ? '   (a failure here is fine)' : ''}\n`);
  };
  run(plan.before);
  if (plan.write) {
    out.write(`Would write ${plan.write.path} (mode ${plan.write.mode.toString(8).padStart(4, '0')}):\n`);
    out.write(`----- ${path.basename(plan.write.path)} -----\n${plan.write.content}${plan.write.content.endsWith('\n') ? '' : '\n'}----- end -----\n`);
  }
  if (plan.remove) out.write(`Would remove ${plan.remove}\n`);
  run(plan.after);
}

function runCommand(command: PlannedCommand, out: NodeJS.WritableStream): void {
  const [program, ...args] = command.argv;
  const result = spawnSync(program, args, { encoding: 'utf8' });
  const shown = command.argv.map(shellWord).join(' ');
  if (result.error || result.status !== 0) {
    if (command.mayFail) return;
    const reason = result.error ? result.error.message : (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ') || `exit ${result.status}`;
    throw new UserError(`\`${shown}\` failed: ${reason}`, 1);
  }
  out.write(`  ${shown}\n`);
}

function applyPlan(plan: ServicePlan, out: NodeJS.WritableStream): void {
  for (const dir of plan.directories) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const command of plan.before) runCommand(command, out);
  if (plan.write) {
    writeFileAtomic(plan.write.path, plan.write.content, plan.write.mode);
    out.write(`  wrote ${plan.write.path}\n`);
  }
  if (plan.remove) {
    fs.rmSync(plan.remove, { force: true });
    out.write(`  removed ${plan.remove}\n`);
  }
  for (const command of plan.after) runCommand(command, out);
}

/** Refuses early, with the reason, when this machine cannot run the service manager at all. */
function checkServiceManager(platform: ServicePlatform, scope: ServiceScope, action: ServiceAction): void {
  if (platform === 'linux') {
    // sd_booted(3): systemd is the running init exactly when this directory exists.
    if (!fs.existsSync('/run/systemd/system')) {
      throw new UserError(
        'this system does not run systemd (no /run/systemd/system), so there is no service to install: start `hotbridge run` from your init system instead (the unit from --dry-run shows the command)',
        2,
      );
    }
  }
  const root = process.getuid?.() === 0;
  if (scope === 'system' && !root) throw new UserError(`a system service needs root: sudo hotbridge service ${action} --system (or --user for one that runs as you)`, 2);
}

export async function runService(options: {
  config?: string;
  action: ServiceAction;
  user?: boolean;
  system?: boolean;
  dryRun?: boolean;
  out: NodeJS.WritableStream;
}): Promise<number> {
  if (options.user && options.system) throw new UserError('choose one: --user or --system', 2);
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new UserError(`hotbridge service knows systemd (Linux) and launchd (macOS), not ${process.platform}: run \`hotbridge run\` from your system's task scheduler`, 2);
  }
  const platform: ServicePlatform = process.platform;
  const scope: ServiceScope = options.system ? 'system' : options.user ? 'user' : process.getuid?.() === 0 ? 'system' : 'user';
  let config: HotbridgeConfig | undefined;
  try {
    config = loadConfigOrExplain(options.config);
  } catch (err) {
    // Uninstalling must work even when the config is broken or gone.
    if (options.action === 'install' || !(err instanceof UserError)) throw err;
  }
  const configFile = realPath(configFileFrom(options.config));
  const paths: ProgramPaths = {
    node: realPath(process.execPath),
    hotbridge: realPath(path.join(PACKAGE_ROOT, 'bin', 'hotbridge.js')),
    config: configFile,
  };
  const plan = planService({
    platform,
    scope,
    action: options.action,
    config,
    paths,
    home: os.homedir(),
    uid: process.getuid?.() ?? 0,
    configOwner: platform === 'darwin' && scope === 'system' && options.action === 'install' ? ownerName(configFile) : os.userInfo().username,
  });

  const what = `${options.action === 'install' ? 'Installing' : 'Uninstalling'} hotbridge as a ${scope === 'user' ? 'user' : 'system'} service (${platform === 'linux' ? 'systemd' : 'launchd'})`;
  if (options.dryRun) {
    options.out.write(`${what}: dry run, nothing is changed.\n`);
    describePlan(plan, options.out);
    return 0;
  }
  checkServiceManager(platform, scope, options.action);
  if (options.action === 'install' && !fs.existsSync(path.join(PACKAGE_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new UserError(`hotbridge is not built (${path.join(PACKAGE_ROOT, 'dist')} is missing): run npm run build (or npm start once) first`, 2);
  }
  options.out.write(`${what}:\n`);
  applyPlan(plan, options.out);
  options.out.write(`${options.action === 'install' ? 'Done.' : 'Removed.'} ${plan.notes.join('\n')}\n`);
  return 0;
}
