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
import { SYSTEM_DATA_DIR } from '../../config/paths.js';
import type { HotbridgeConfig } from '../../config/types.js';
import { writeFileAtomic } from '../../runtime/files.js';
import { configFileFrom, loadConfigOrExplain, UserError } from '../config-option.js';
import { controlService, type ControlAction } from '../service/control.js';
import {
  LAUNCHD_LABEL,
  launchAgent,
  launchDaemon,
  PACKAGE_ROOT,
  systemUnit,
  unitSays,
  userUnit,
  type Credential,
  type ProgramPaths,
} from '../service/units.js';

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
  /** Why it cannot be installed as it stands, each with its fix; a dry run shows them after the plan. */
  problems: string[];
}

export { SYSTEM_DATA_DIR };
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

/** ProtectHome= makes /home, /root and /run/user invisible to the system service. */
function underHome(file: string): boolean {
  return /^\/(home|root|run\/user)(\/|$)/.test(file);
}

/** PrivateTmp= gives the service its own empty /tmp and /var/tmp. */
function underTmp(file: string): boolean {
  return /^\/(tmp|var\/tmp)(\/|$)/.test(file);
}

/** Every file the service reads, named for messages. */
function filesTheServiceReads(input: PlanInput, config: HotbridgeConfig | undefined): Array<[string, string]> {
  const files: Array<[string, string]> = [
    ['the config', input.paths.config],
    ['node', input.paths.node],
    ['hotbridge', input.paths.hotbridge],
  ];
  for (const account of config?.accounts ?? []) {
    if (account.auth.method === 'password' && account.auth.passwordFile)
      files.push([`the password file of ${account.address}`, account.auth.passwordFile]);
    for (const server of [account.pop3, account.smtp]) if (server.caFile) files.push([`the ca_file of ${account.address}`, server.caFile]);
  }
  for (const file of [config?.imap.certFile, config?.imap.keyFile, config?.smtp.certFile, config?.smtp.keyFile])
    if (file) files.push(['a tls_cert/tls_key file', file]);
  return files;
}

/** What the hardened system unit could not see, each with the fix. */
function hiddenFromSystemUnit(input: PlanInput, config: HotbridgeConfig | undefined, unit: string): string[] {
  const problems: string[] = [];
  for (const [what, file] of filesTheServiceReads(input, config)) {
    const program = what === 'node' || what === 'hotbridge';
    if (unitSays(unit, 'ProtectHome') && underHome(file)) {
      problems.push(
        `${what} is at ${file}, inside a home directory, which the system service cannot see (ProtectHome=yes). ` +
          (program
            ? `Install ${what} system-wide (${what === 'hotbridge' ? 'from the clone: npm install -g "$(npm pack --silent)"' : 'for example from your distribution, under /usr'}), or run hotbridge as your user: hotbridge service install --user`
            : 'Set up a system-wide config with: sudo hotbridge setup --config /etc/hotbridge/config.toml — or run hotbridge as your user: hotbridge service install --user'),
      );
    } else if (unitSays(unit, 'PrivateTmp') && underTmp(file)) {
      problems.push(
        `${what} is at ${file}, under /tmp, which the system service does not share (PrivateTmp=yes gives it an empty /tmp of its own). ` +
          (program
            ? `Install ${what} under /usr or /opt.`
            : 'Move it to /etc/hotbridge (sudo hotbridge setup --config /etc/hotbridge/config.toml writes a config there).'),
      );
    }
  }
  return problems;
}

/** The ports below 1024 need CAP_NET_BIND_SERVICE (capabilities(7)). */
function listensBelow1024(config: HotbridgeConfig): boolean {
  const tables = [config.imap, config.smtp, config.pop3];
  return [...tables.flatMap((table) => [...table.listen, ...table.tlsListen]), ...config.status.listen].some(
    (address) => address.port > 0 && address.port < 1024,
  );
}

/** One credential per password file, named after the file (the daemon looks it up by that name). */
function credentialsOf(config: HotbridgeConfig, problems: string[]): Credential[] {
  const credentials: Credential[] = [];
  for (const account of config.accounts) {
    if (account.auth.method !== 'password' || !account.auth.passwordFile) continue;
    const file = account.auth.passwordFile;
    const id = path.basename(file);
    if (id.includes(':') || id === '.' || id === '..') {
      problems.push(`the password file name ${id} cannot be a systemd credential name (no ":"): rename ${file}`);
      continue;
    }
    const clash = credentials.find((credential) => credential.id === id && credential.file !== file);
    if (clash) {
      problems.push(
        `two password files are both named ${id} (${clash.file} and ${file}); the service tells them apart by name: rename one`,
      );
      continue;
    }
    if (!credentials.some((credential) => credential.id === id)) credentials.push({ id, file });
  }
  return credentials;
}

/** `restart` rather than `enable --now`: a reinstall must replace a running daemon started from the old unit. */
function enableAndStart(systemctl: string[]): PlannedCommand[] {
  return [
    { argv: [...systemctl, 'daemon-reload'] },
    { argv: [...systemctl, 'enable', UNIT_NAME] },
    { argv: [...systemctl, 'restart', UNIT_NAME] },
  ];
}

function systemdPlan(input: PlanInput): ServicePlan {
  const { scope, action, paths, home } = input;
  const plan: ServicePlan = { platform: 'linux', scope, action, directories: [], before: [], after: [], notes: [], problems: [] };
  const systemctl = scope === 'user' ? ['systemctl', '--user'] : ['systemctl'];
  const unitDir =
    scope === 'user' ? path.join(process.env.XDG_CONFIG_HOME || path.join(home, '.config'), 'systemd', 'user') : '/etc/systemd/system';
  const unitFile = path.join(unitDir, UNIT_NAME);

  if (action === 'uninstall') {
    plan.before.push({ argv: [...systemctl, 'disable', '--now', UNIT_NAME], mayFail: true });
    plan.remove = unitFile;
    plan.after.push({ argv: [...systemctl, 'daemon-reload'] });
    plan.notes.push(keptNote(input));
    if (scope === 'system') plan.notes.push(`The user "${SERVICE_USER}" is kept; remove it with: userdel ${SERVICE_USER}`);
    return plan;
  }

  const config = input.config;
  if (!config)
    plan.problems.push(
      `installing a service needs a working config (${paths.config}): run hotbridge setup, or hotbridge doctor to see what is wrong`,
    );
  if (scope === 'user') {
    plan.directories.push(unitDir);
    plan.write = { path: unitFile, content: userUnit(paths), mode: 0o644 };
    plan.after.push(...enableAndStart(systemctl));
    plan.notes.push(
      `hotbridge now starts when you log in. To keep it running while you are logged out: loginctl enable-linger ${os.userInfo().username}`,
    );
    plan.notes.push('Logs: journalctl --user -u hotbridge   Status: hotbridge status');
    return plan;
  }

  // The system service runs as its own user behind ProtectHome= and PrivateTmp=, with its state in /var/lib/hotbridge.
  const credentials = config ? credentialsOf(config, plan.problems) : [];
  const unit = systemUnit(paths, { credentials, bindLowPorts: config ? listensBelow1024(config) : false });
  plan.problems.push(...hiddenFromSystemUnit(input, config, unit));
  if (config && path.resolve(config.dataDir) !== SYSTEM_DATA_DIR) {
    plan.problems.push(
      `the system service keeps its data in ${SYSTEM_DATA_DIR} (StateDirectory=), but ${config.file} says data_dir = "${config.dataDir}": ` +
        `set data_dir = "${SYSTEM_DATA_DIR}" (move the old data dir there first if it holds mail)`,
    );
  }
  const configDir = path.dirname(paths.config);
  plan.before.push({
    argv: [
      'sh',
      '-c',
      `id -u ${SERVICE_USER} >/dev/null 2>&1 || useradd --system --user-group --home-dir ${SYSTEM_DATA_DIR} --no-create-home --shell /usr/sbin/nologin ${SERVICE_USER}`,
    ],
  });
  // What set-up and `hotbridge login` wrote there as root becomes the service's (StateDirectory= would do
  // it at the next start too; doing it now lets a running service read a new sign-in at once).
  plan.before.push({ argv: ['sh', '-c', `test ! -d ${SYSTEM_DATA_DIR} || chown -R ${SERVICE_USER}:${SERVICE_USER} ${SYSTEM_DATA_DIR}`] });
  // The service user reads the config (not the password files: those come as credentials). Only a
  // directory of hotbridge's own is opened to it, never a shared one such as /etc.
  if (path.basename(configDir).includes('hotbridge')) {
    plan.before.push({ argv: ['chgrp', SERVICE_USER, configDir, paths.config] }, { argv: ['chmod', '0750', configDir] });
  } else {
    plan.before.push({ argv: ['chgrp', SERVICE_USER, paths.config] });
  }
  plan.before.push({ argv: ['chmod', '0640', paths.config] });
  plan.write = { path: unitFile, content: unit, mode: 0o644 };
  plan.after.push(...enableAndStart(systemctl));
  plan.notes.push('hotbridge now starts at boot. Logs: journalctl -u hotbridge   Status: sudo hotbridge status --config ' + paths.config);
  plan.notes.push(
    'After editing the config: sudo systemctl reload hotbridge (a changed password file needs: sudo systemctl restart hotbridge)',
  );
  // Files written by root in the state directory would be unreadable to the service user.
  plan.notes.push(
    `Sign in and set local passwords as the service user: sudo -u ${SERVICE_USER} hotbridge login ADDRESS --config ${paths.config}`,
  );
  return plan;
}

function launchdPlan(input: PlanInput): ServicePlan {
  const { scope, action, paths, home, uid } = input;
  const plan: ServicePlan = { platform: 'darwin', scope, action, directories: [], before: [], after: [], notes: [], problems: [] };
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
  if (!input.config)
    plan.problems.push(
      `installing a service needs a working config (${paths.config}): run hotbridge setup, or hotbridge doctor to see what is wrong`,
    );
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

/** What `service install|uninstall` does on this platform and scope; `problems` says why it cannot work. */
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
    for (const command of commands)
      out.write(`Would run: ${command.argv.map(shellWord).join(' ')}${command.mayFail ? '   (a failure here is fine)' : ''}\n`);
  };
  run(plan.before);
  if (plan.write) {
    out.write(`Would write ${plan.write.path} (mode ${plan.write.mode.toString(8).padStart(4, '0')}):\n`);
    out.write(
      `----- ${path.basename(plan.write.path)} -----\n${plan.write.content}${plan.write.content.endsWith('\n') ? '' : '\n'}----- end -----\n`,
    );
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
    const reason = result.error
      ? result.error.message
      : (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ') || `exit ${result.status}`;
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
export function checkServiceManager(platform: ServicePlatform, scope: ServiceScope, action: ServiceAction | ControlAction): void {
  if (platform === 'linux') {
    // sd_booted(3): systemd is the running init exactly when this directory exists.
    if (!fs.existsSync('/run/systemd/system')) {
      throw new UserError(
        `this system does not run systemd (no /run/systemd/system), so there is no service to ${action === 'status' ? 'show' : action === 'logs' ? 'show the log of' : action}: start \`hotbridge run\` from your init system instead (hotbridge service install --dry-run shows the command)`,
        2,
      );
    }
  }
  const root = process.getuid?.() === 0;
  // Looking at the system service needs no root; changing it does.
  const changes = action !== 'status' && action !== 'logs';
  if (scope === 'system' && !root && changes)
    throw new UserError(
      `the system service needs root for this: sudo hotbridge service ${action} --system (or --user for one that runs as you)`,
      2,
    );
}

/** Where a service of this scope is installed (to tell which one exists). */
export function serviceFile(platform: ServicePlatform, scope: ServiceScope, home: string): string {
  if (platform === 'darwin')
    return scope === 'user'
      ? path.join(home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`)
      : path.join('/Library/LaunchDaemons', `${LAUNCHD_LABEL}.plist`);
  return scope === 'user'
    ? path.join(process.env.XDG_CONFIG_HOME || path.join(home, '.config'), 'systemd', 'user', UNIT_NAME)
    : path.join('/etc/systemd/system', UNIT_NAME);
}

export async function runService(options: {
  config?: string;
  action: ServiceAction | ControlAction;
  user?: boolean;
  system?: boolean;
  dryRun?: boolean;
  follow?: boolean;
  lines?: number;
  out: NodeJS.WritableStream;
}): Promise<number> {
  if (options.user && options.system) throw new UserError('choose one: --user or --system', 2);
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new UserError(
      `hotbridge service knows systemd (Linux) and launchd (macOS), not ${process.platform}: run \`hotbridge run\` from your system's task scheduler`,
      2,
    );
  }
  const platform: ServicePlatform = process.platform;
  const root = process.getuid?.() === 0;
  if (options.action !== 'install' && options.action !== 'uninstall') {
    // Without --user/--system: the one that is installed (a user may look at the system service too).
    const installed = (['user', 'system'] as const).filter((scope) => fs.existsSync(serviceFile(platform, scope, os.homedir())));
    const scope: ServiceScope = options.system
      ? 'system'
      : options.user
        ? 'user'
        : installed.length === 1
          ? installed[0]
          : root
            ? 'system'
            : 'user';
    checkServiceManager(platform, scope, options.action);
    return controlService({
      platform,
      scope,
      action: options.action,
      root,
      uid: process.getuid?.() ?? 0,
      home: os.homedir(),
      follow: options.follow,
      lines: options.lines,
      out: options.out,
    });
  }
  const scope: ServiceScope = options.system ? 'system' : options.user ? 'user' : root ? 'system' : 'user';
  let config: HotbridgeConfig | undefined;
  let configProblem: string | undefined;
  try {
    config = loadConfigOrExplain(options.config);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    // Uninstalling works even when the config is broken or gone; a dry run still shows the unit.
    configProblem = err.message;
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
    configOwner:
      platform === 'darwin' && scope === 'system' && options.action === 'install' && fs.existsSync(configFile)
        ? ownerName(configFile)
        : os.userInfo().username,
  });
  if (configProblem && options.action === 'install') plan.problems.unshift(`the config cannot be used: ${configProblem}`);

  const what = `${options.action === 'install' ? 'Installing' : 'Uninstalling'} hotbridge as a ${scope === 'user' ? 'user' : 'system'} service (${platform === 'linux' ? 'systemd' : 'launchd'})`;
  if (options.dryRun) {
    options.out.write(`${what}: dry run, nothing is changed.\n`);
    describePlan(plan, options.out);
    if (plan.problems.length > 0) {
      options.out.write(
        `\nA real install would stop before any of this, because:\n${plan.problems.map((problem) => `  - ${problem}\n`).join('')}`,
      );
    }
    return 0;
  }
  if (plan.problems.length > 0) throw new UserError(plan.problems.join('\n'), 2);
  checkServiceManager(platform, scope, options.action);
  if (options.action === 'install' && !fs.existsSync(path.join(PACKAGE_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new UserError(
      `hotbridge is not built (${path.join(PACKAGE_ROOT, 'dist')} is missing): run npm run build (or npm start once) first`,
      2,
    );
  }
  options.out.write(`${what}:\n`);
  applyPlan(plan, options.out);
  options.out.write(`${options.action === 'install' ? 'Done.' : 'Removed.'} ${plan.notes.join('\n')}\n`);
  return 0;
}
