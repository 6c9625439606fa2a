// The static approval page: one HTML file with its script and style inline (page/airlock-approve.html).
// Built for one runner: the ntfy server it may POST to is written in, and a Content-Security-Policy with
// the sha256 of the exact script and style lets nothing else run, load or connect.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const TEMPLATE = new URL('./page/airlock-approve.html', import.meta.url);

function inline(html: string, tag: 'script' | 'style'): string {
  const m = new RegExp(`<${tag}(?: type="module")?>([\\s\\S]*?)</${tag}>`).exec(html);
  if (!m) throw new Error(`the page template has no <${tag}>`);
  return m[1]!;
}

const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page for a runner whose replies go to `server` (approval.ntfy.url). */
export async function buildApprovalPage(server: string): Promise<string> {
  const template = await readFile(TEMPLATE, 'utf8');
  const origin = new URL(server).origin;
  const html = template.replace('__AIRLOCK_SERVER__', JSON.stringify(server.replace(/\/+$/, '')));
  const csp = [
    "default-src 'none'",
    `script-src ${hash(inline(html, 'script'))}`,
    `style-src ${hash(inline(html, 'style'))}`,
    `connect-src ${origin}`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return html.replace('__AIRLOCK_CSP__', csp);
}
