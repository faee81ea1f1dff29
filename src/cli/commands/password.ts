/**
 * `hotbridge password ADDRESS`: sets the local password mail clients use for IMAP and SMTP. Read from
 * standard input (`echo SECRET | hotbridge password ADDRESS`), or asked twice without echo on a terminal.
 */
import { LocalPasswords, MIN_LOCAL_PASSWORD_LENGTH } from '../../runtime/local-passwords.js';
import { giveToDataDirOwner } from '../data-dir-owner.js';
import { findAccount, loadConfigOrExplain, UserError } from '../config-option.js';
import { readHidden, readStdin } from '../prompt.js';

export async function setPassword(options: { config?: string; address: string; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  const account = findAccount(config, options.address);
  let password: string;
  if (process.stdin.isTTY) {
    password = await readHidden(`New local password for ${account.address}: `);
    const again = await readHidden('Again: ');
    if (again !== password) throw new UserError('the two passwords differ; nothing was changed');
  } else {
    // First line only; the newline `echo` adds is not part of the password.
    password = (await readStdin()).split(/\r?\n/)[0];
  }
  if (password.length === 0) throw new UserError('the password is empty; nothing was changed');
  if ([...password].length < MIN_LOCAL_PASSWORD_LENGTH) {
    throw new UserError(
      `the password is too short (${[...password].length} characters): use at least ${MIN_LOCAL_PASSWORD_LENGTH}, for example four words; nothing was changed`,
    );
  }
  await new LocalPasswords(config.dataDir).set(account.address, password);
  giveToDataDirOwner(config.dataDir);
  options.out.write(`Local password set for ${account.address}. Mail clients log in with it on localhost (IMAP and SMTP).\n`);
  return 0;
}
