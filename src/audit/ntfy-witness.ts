// Publishing a witnessed chain head to an ntfy topic, through the one ntfy client (src/ntfy/client.ts):
// one JSON publish, with no request budget of its own (a head goes out at most once a minute).
import { AirlockError } from '../errors.ts';
import { createNtfyClient } from '../ntfy/client.ts';
import { NtfyError } from '../ntfy/errors.ts';

export interface NtfyWitnessTarget {
  url: string;
  topic: string;
  /** The access token's value (read from the env var named in the config), if the topic needs one. */
  token?: string;
}

/** Publish `message` to the witness topic; throws an AirlockError naming ntfy's error code on failure. */
export async function publishWitness(target: NtfyWitnessTarget, title: string, message: string): Promise<void> {
  const client = createNtfyClient(target.url, { budget: null });
  try {
    await client.publish({ topic: target.topic, title, message, tags: ['lock'], priority: 2 }, target.token ?? null);
  } catch (err) {
    if (!(err instanceof NtfyError)) throw err;
    throw new AirlockError('airlock:witness-publish', "ntfy refused the witness message", {
      hint: err.status === 401 || err.status === 403 ? 'Check the token named by `audit.witness.ntfy.tokenEnv` and its write access to the topic.' : 'The head is still in the log line; check the ntfy server.',
      cause: err,
    });
  }
}
