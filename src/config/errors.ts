import { AirlockError } from '../errors.ts';

/** A runner config that cannot be used; the message names the file, the key path and the bad value. */
export class ConfigError extends AirlockError {
  readonly file: string;
  readonly problems: string[];

  constructor(file: string, problems: string[], cause?: unknown, hint?: string) {
    const body = problems.length === 1 ? problems[0] : `\n  - ${problems.join('\n  - ')}`;
    super('airlock:config-invalid', `${file}: ${body}`, {
      cause,
      hint: hint ?? `Fix ${file} and run \`airlock doctor --config ${file}\` again. Editors complete the file from runners/airlock.schema.json.`,
    });
    this.file = file;
    this.problems = problems;
  }
}
