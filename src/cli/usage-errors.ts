/**
 * yargs' complaints about the command line, said the way a person needs them: what is missing, with an
 * example, and for a typo the closest thing that exists ("did you mean status?"). yargs gives its messages
 * in English text only, so they are recognised by their fixed wording (yargs/locales/en.json).
 */
import { closest } from '../config/closest.js';

export interface CommandUsage {
  name: string;
  /** The positional arguments as shown in usage (`<address>`). */
  positionals: string[];
  /** A complete example of the command. */
  example: string;
  /** The options it takes besides the global ones, without dashes. */
  options: string[];
}

const GLOBAL_OPTIONS = ['config', 'help', 'version'];

/** What a missing positional is, in words, with an example. */
function missingPositional(usage: CommandUsage): string {
  const what = usage.positionals.map((p) => p.replace(/[<>[\]]/g, '')).join(' and ');
  return `hotbridge ${usage.name} needs ${what === 'address' ? "the account's address" : what === 'action' ? 'an action' : `the ${what}`}, for example: ${usage.example}`;
}

/**
 * Translates one yargs failure. `argv` is the command line as typed; `commands` every command hotbridge
 * has. Returns the text to show (one or two lines).
 */
export function translateUsageError(message: string, argv: readonly string[], commands: readonly CommandUsage[]): string {
  const words = argv.filter((word) => !word.startsWith('-'));
  const command = commands.find((c) => c.name === words[0]);
  const help = command ? `hotbridge ${command.name} --help` : 'hotbridge --help';

  if (/^Not enough non-option arguments/.test(message) && command) return missingPositional(command);

  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown) {
    const names = unknown[1].split(', ');
    const lines = names.map((name) => {
      const typed = argv.find((word) => word.replace(/^-+/, '').split('=')[0] === name) ?? name;
      if (typed.startsWith('-')) {
        const options = [...(command?.options ?? []), ...GLOBAL_OPTIONS];
        const guess = closest(name, options);
        return `unknown option ${typed}${guess ? ` (did you mean --${guess}?)` : ''}`;
      }
      if (!command) {
        const guess = closest(
          name,
          commands.map((c) => c.name),
        );
        return `unknown command "${name}"${guess ? ` (did you mean ${guess}?)` : ''}`;
      }
      return `hotbridge ${command.name} takes no "${name}" here; for example: ${command.example}`;
    });
    return `${lines.join('\n')}\nRun \`${help}\` to see what it takes.`;
  }

  const invalid = /Argument: (\S+), Given: "([^"]*)", Choices: (.+)/.exec(message);
  if (invalid) {
    const choices = [...invalid[3].matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    const guess = closest(invalid[2], choices);
    const where = command ? `hotbridge ${command.name}` : 'hotbridge';
    return `${where}: "${invalid[2]}" is not ${/^[aeiou]/.test(invalid[1]) ? 'an' : 'a'} ${invalid[1]}${guess ? ` (did you mean ${guess}?)` : ''}; choose one of: ${choices.join(', ')}`;
  }

  const needsValue = /^Not enough arguments following: (\S+)/.exec(message);
  if (needsValue) {
    const option = needsValue[1];
    const example =
      option === 'config' || option === 'c'
        ? '--config /etc/hotbridge/config.toml'
        : option === 'log-level'
          ? '--log-level debug'
          : option === 'log-format'
            ? '--log-format json'
            : `--${option} VALUE`;
    return `--${option} needs a value, for example: ${example}`;
  }

  const missing = /^Missing required arguments?: (.+)$/.exec(message);
  if (missing && command) return missingPositional(command);

  return `${message}\nRun \`${help}\` for the commands.`;
}
