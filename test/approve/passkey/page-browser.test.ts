// The approval page in a real browser: Debian chromium driven by playwright-core, a CDP virtual
// authenticator (ctap2, internal, user verification on), the page served on localhost (its origin is the
// relying party). Register through the page and the CLI, approve through the page and the ntfy double,
// and the apply runs. Hostile names in a request render as text, never as markup.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { passkeyConfigSchema } from '../../../src/approve/passkey/config.ts';
import { buildApprovalPage } from '../../../src/approve/passkey/page.ts';
import { reviewLink } from '../../../src/approve/passkey/review-link.ts';
import { newToken } from '../../../src/approve/approve.ts';
import { TF_TWO } from '../../e2e/loop-fixture.ts';
import { pushCommit } from '../../git-fixtures.ts';
import { waitForState } from '../../support/harness.ts';
import { setupNtfyLoop } from '../ntfy-loop-fixture.ts';
import { reviewOf } from './passkey-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];
const SCREENSHOT = process.env['AIRLOCK_PAGE_SCREENSHOT'];

let browser: Browser;
let server: Server;
let origin: string;
const pages = new Map<string, string>();

/** Serve `html` at `/airlock-approve.html` on this test's origin. */
function servePage(html: string): void {
  pages.set('/airlock-approve.html', html);
}

async function withAuthenticator(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
}

describe('the approval page in chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium; .ci/run does)` }, () => {
  before(async () => {
    server = createServer((req, res) => {
      const html = pages.get(new URL(req.url ?? '/', 'http://x').pathname);
      res.writeHead(html ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(html ?? 'not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // localhost is a secure context, so WebAuthn works there without TLS; RP ID "localhost".
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('registers a passkey, approves with it, and the apply runs', async (t) => {
    const s = await setupNtfyLoop(t, { approval: { passkey: { origin }, require: { approve: 'passkey' } } });
    servePage(await buildApprovalPage(s.ntfy.url));
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await withAuthenticator(page);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));

    // Registration: the operator's link, the approver's device, the operator imports the file.
    const link = await s.loop.cli('passkey', 'register', '--approver', 'alice');
    const registerUrl = /(http:\/\/localhost\S+)/.exec(link.out)?.[1];
    assert.ok(registerUrl, link.out);
    await page.goto(registerUrl);
    assert.equal(new URL(page.url()).hash, '', 'the page drops the fragment from the address bar at once');
    await page.click('#register');
    const file = await page.locator('#registration').inputValue({ timeout: 30_000 });
    const regFile = path.join(s.loop.root, 'alice-passkey.json');
    await writeFile(regFile, file);
    const added = await s.loop.cli('passkey', 'add', '--approver', 'alice', regFile);
    assert.equal(added.code, 0, added.err);

    // Approval: the Review link of the request opens the page; the passkey signs; the page posts the reply.
    const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/7/head'] });
    await s.loop.runner.watcher.pollAll();
    const id = s.loop.runId(sha);
    const { url } = reviewOf(await s.request(id, 'alice'));
    await page.goto(url);
    await page.locator('#approve, #status.error').first().waitFor();
    assert.deepEqual(await page.locator('#changes li').allTextContents(), ['createterraform_data.a', 'createterraform_data.b'], await page.locator('#app').innerText());
    assert.deepEqual(await page.locator('#changes li').allTextContents(), ['createterraform_data.a', 'createterraform_data.b']);
    if (SCREENSHOT) {
      await mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }
    await page.click('#approve');
    await page.locator('#status.ok').waitFor({ timeout: 30_000 });
    const applied = await waitForState(s.loop.runner, id, ['applied', 'failed', 'needs_attention']);
    assert.equal(applied.state, 'applied', JSON.stringify(applied.error));
    const granted = (await s.audit(id)).find((r) => r.type === 'approval.granted');
    assert.ok(granted?.detail?.['passkey'], 'the approval carries the passkey proof');
    const verified = await s.loop.cli('audit', 'verify', '--approvals');
    assert.equal(verified.code, 0, verified.out);
    assert.match(verified.out, /1 of 1 passkey signature\(s\) verify; 1 of 1 apply\(s\) rest on a proven approval/);
    assert.deepEqual(errors, [], 'no script error and no CSP violation on the page');
  });

  it('renders hostile names inert: markup as text, direction overrides made visible, destroys first', async (t) => {
    const html = await buildApprovalPage('http://127.0.0.1:9');
    servePage(html);
    const config = passkeyConfigSchema.parse({ origin });
    const hostile = [
      { action: 'create', address: 'terraform_data.a["<img src=x onerror=window.__pwned=1>"]' },
      { action: 'update', address: 'terraform_data.b["\u202Eevil\u202C</li><script>window.__pwned=2</script>"]' },
      { action: 'delete', address: 'terraform_data.gone' },
    ];
    const url = reviewLink(config, {
      runId: 'r-hostile', repo: 'infra<b>bold</b>', workspace: 'default', pr: 3, sha: 'a'.repeat(40), planSha256: 'b'.repeat(64), tier: 'confirm', phase: 'approve',
      expiresAt: new Date().toISOString(), approver: 'alice', nonce: newToken(), reply: { server: 'http://127.0.0.1:9', topic: 'reply-topic', token: 'tk_x' },
      title: 'Approve? <i>hostile</i>', summary: { counts: { create: 1, update: 1, delete: 1 }, total: 3, changes: hostile },
    });
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(url);
    await page.locator('#approve').waitFor();
    const rows = await page.locator('#changes li').allTextContents();
    assert.equal(rows.length, 3);
    assert.equal(rows[0], 'deleteterraform_data.gone', 'destroys first, whatever order the link lists them in');
    assert.ok(rows[1]!.includes('<img src=x onerror=window.__pwned=1>'), 'markup is shown as text');
    assert.ok(!rows[2]!.includes('\u202E') && rows[2]!.includes('\uFFFD'), 'a direction override is replaced by a visible mark');
    assert.equal(await page.locator('#changes img, #changes script, #app b, #app i').count(), 0, 'no element was made from a name');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('#destroy-warning').count(), 1);
    // Control: the same page with the escaping switched off (innerHTML) would have made the elements.
    await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { innerHTML: string; textContent: string } } }).document;
      const li = doc.querySelector('#changes li:nth-child(2)');
      li.innerHTML = li.textContent;
    });
    assert.equal(await page.locator('#changes img').count(), 1, 'control: the name is live markup once parsed as HTML');
 
    // A link naming another ntfy server than the page was built for is refused before anything is shown
    // (opened in the same tab: only the fragment changes, and the page starts again on it).
    const elsewhere = url.replace(/#a=(.*)$/, (_m, b64: string) => `#a=${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(b64, 'base64url').toString()), server: 'https://ntfy.evil.test' })).toString('base64url')}`);
    await page.goto(elsewhere);
    await page.locator('#status.error').waitFor();
    assert.match(await page.locator('#status').innerText(), /another ntfy server/);
    // The CSP admits only the script it was built with: one changed character and nothing runs.
    servePage(html.replace("'Approve plan'", "'Approve plan!'"));
    const blocked: string[] = [];
    page.on('console', (m) => void blocked.push(m.text()));
    await page.goto('about:blank');
    await page.goto(`${origin}/airlock-approve.html${new URL(url).hash}`);
    await page.waitForLoadState('load');
    assert.equal(await page.locator('#app').innerText(), 'Loading…', 'the altered script did not run');
    assert.ok(blocked.some((m) => /Content Security Policy/i.test(m)), blocked.join('\n'));
  });
});
