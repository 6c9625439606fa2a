// ntfy's JSON errors, as server/errors.go defines them (code, HTTP status, text, link).

export interface NtfyErrorBody {
  code: number;
  http: number;
  error: string;
  link?: string;
}

const LIMITS = 'https://ntfy.sh/docs/publish/#limitations';
const AUTH = 'https://ntfy.sh/docs/publish/#authentication';

export const ERRORS = {
  invalidPriority: { code: 40007, http: 400, error: 'invalid priority parameter', link: 'https://ntfy.sh/docs/publish/#message-priority' },
  invalidSince: { code: 40008, http: 400, error: 'invalid since parameter', link: 'https://ntfy.sh/docs/subscribe/api/#fetch-cached-messages' },
  invalidTopic: { code: 40009, http: 400, error: 'invalid request: topic invalid' },
  topicDisallowed: { code: 40010, http: 400, error: 'invalid request: topic name is not allowed' },
  notUtf8: { code: 40011, http: 400, error: 'invalid request: message must be UTF-8 encoded' },
  attachmentsDisallowed: { code: 40014, http: 400, error: 'invalid request: attachments not allowed', link: 'https://ntfy.sh/docs/config/#attachments' },
  invalidActions: { code: 40018, http: 400, error: 'invalid request: actions invalid', link: 'https://ntfy.sh/docs/publish/#action-buttons' },
  invalidJson: { code: 40024, http: 400, error: 'invalid request: request body must be valid JSON' },
  unauthorized: { code: 40101, http: 401, error: 'unauthorized', link: AUTH },
  forbidden: { code: 40301, http: 403, error: 'forbidden', link: AUTH },
  notFound: { code: 40401, http: 404, error: 'page not found' },
  jsonTooLarge: { code: 41303, http: 413, error: 'JSON body too large' },
  tooManyRequests: { code: 42901, http: 429, error: 'limit reached: too many requests', link: LIMITS },
  tooManySubscriptions: { code: 42903, http: 429, error: 'limit reached: too many active subscriptions', link: LIMITS },
  tooManyAuthFailures: { code: 42909, http: 429, error: 'limit reached: too many auth failures', link: LIMITS },
  internal: { code: 50001, http: 500, error: 'internal server error' },
} as const satisfies Record<string, NtfyErrorBody>;

/** An ntfy error answer; `detail` is appended as errHTTP.Wrap does (`error; detail`). */
export class HttpError extends Error {
  constructor(
    readonly body: NtfyErrorBody,
    readonly detail?: string,
  ) {
    super(body.error);
  }

  json(): NtfyErrorBody {
    return { ...this.body, error: this.detail ? `${this.body.error}; ${this.detail}` : this.body.error };
  }
}
