/**
 * Set-up's proof that an account works end to end, before the user walks away: a POP3 login and STAT
 * (which is where Outlook.com shows that POP is off), and an SMTP AUTH with no mail sent. The checks and
 * their advice are the doctor's own, so set-up and `hotbridge doctor` never disagree.
 */
import type { AccountConfig, HotbridgeConfig } from '../../config/types.js';
import type { UpstreamLogin } from '../../upstream/credentials.js';
import { checkPop3Login, checkSmtpLogin, type AccountCheckContext } from '../doctor/account-checks.js';
import { DoctorReport } from '../doctor/report.js';

export interface Proof {
  /** POP3 login and STAT worked: mail can be fetched. */
  receives: boolean;
  /** SMTP AUTH worked: mail can be sent. */
  sends: boolean;
}

/** Runs both checks, printing one line each (and a fix for what failed). */
export async function proveAccount(
  config: HotbridgeConfig,
  account: AccountConfig,
  login: UpstreamLogin,
  out: NodeJS.WritableStream,
): Promise<Proof> {
  const report = new DoctorReport(out);
  const ctx: AccountCheckContext = {
    config,
    account,
    index: config.accounts.indexOf(account),
    report,
    daemonRunning: false,
    clock: [],
    certificatesChecked: { value: false },
  };
  const before = report.failures;
  await checkPop3Login(ctx, login);
  const receives = report.failures === before;
  const middle = report.failures;
  await checkSmtpLogin(ctx, login);
  return { receives, sends: report.failures === middle };
}
