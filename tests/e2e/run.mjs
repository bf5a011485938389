// End-to-end test of the coallab web interface in a real browser (issue 7).
//
// Starts the real `coallab serve` (demo county, fresh temporary data directory, a port the system picks,
// rate limits off), drives Debian's chromium (/usr/bin/chromium, never a downloaded browser)
// with playwright-core, and walks the whole supervision flow twice, in Chinese (the default)
// and in English:
//   technician tech-wang signs in, registers a sample of sale point SP-02, receives and starts
//   it, enters determinations (one pair over r asks for a third), submits; reviewer rev-zhao
//   releases it from the review queue; regulator reg-chen sees the failure, records the
//   enterprise's receipt of the result and its appeal; technician tech-li (demo-technician-2)
//   enters the retest; the reviewer releases it; the final verdict shows on the supplier page;
//   auditor aud-liu checks the audit chain, finds the appeal in the trail, downloads the TAT CSV;
//   the admin adds a technician of lab DEMO through the users form (refused first without a
//   lab, the typed name kept), and that technician signs in and sees the lab's worklist.
// Screenshots of every page go to $E2E_SCREENSHOTS (default target/e2e-screenshots).
//
// Usage: node run.mjs [path/to/coallab]   (default target/debug/coallab, built beforehand)
//
// The determinations (r from src/domain/precision_table.rs, rules in docs/rules.md):
// Initial test (初检), technician tech-wang:
//   Mad   2.10 / 2.16: range 0.06 ≤ r 0.20 (mean < 5.00 %)        → mean 2.13
//   Aad  15.02 / 15.37: range 0.35 > r 0.30 (mean 15.195 in 15.00–30.00 %) → one more needed;
//        third 15.20: range of the three 0.35 ≤ 1.2 × 0.30 = 0.36 → mean 45.59 / 3 = 15.19666…
//   St,ad 0.98 / 1.00: range 0.02 ≤ r 0.05 (mean ≤ 1.50 %)        → mean 0.99
//   Ad   = 15.19666… × 100 / (100 − 2.13) = 15.5274… < 16.00 → pass
//   St,d = 0.99 × 100 / 97.87 = 1.01154… ≥ 1.00 → FAIL (loose-coal clause and Handan rule,
//          St,d < 1.00); the initial verdict is fail.
// Retest (复检) on the retained sample, technician tech-li:
//   Mad 2.12 / 2.14 → 2.13 (range 0.02 ≤ 0.20); Aad 15.10 / 15.20 → 15.15 (0.10 ≤ 0.30);
//   St,ad 0.95 / 0.96 → 0.955 (0.01 ≤ 0.05)
//   Ad   = 15.15 × 100 / 97.87 = 15.4797… < 16.00 → pass
//   St,d = 0.955 × 100 / 97.87 = 0.97578… < 1.00 → pass: the final verdict is pass.

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const binary = resolve(process.argv[2] || join(repo, 'target', 'debug', 'coallab'));
const shots = resolve(process.env.E2E_SCREENSHOTS || join(repo, 'target', 'e2e-screenshots'));
mkdirSync(shots, { recursive: true });
// Only this run's screenshots: drop the PNGs of an earlier run.
for (const f of readdirSync(shots)) if (f.endsWith('.png')) rmSync(join(shots, f));
const dataDir = mkdtempSync(join(tmpdir(), 'coallab-e2e-data-'));
// The server binds a port the system chooses (`--bind 127.0.0.1:0`) and prints it; a port
// picked here at random could already be taken by another service on the machine.
let base;

let server;
let browser;
let shot = 0;
let current; // the page in use, for a screenshot when the run fails

function log(...a) { console.log(new Date().toISOString().slice(11, 19), ...a); }

async function startServer() {
  server = spawn(binary, ['serve', '--data-dir', dataDir, '--bind', '127.0.0.1:0',
    '--rate-writes-per-minute', '0', '--rate-login-per-minute', '0'],
  { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COALLAB_LOG: 'warn' } });
  let output = '';
  server.stdout.on('data', (d) => { output += d; });
  server.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((res) => server.on('exit', (code) => res(code)));
  for (let i = 0; i < 600; i++) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('wait'), 500))]);
    if (code !== 'wait') throw new Error(`coallab serve exited with ${code}:\n${output}`);
    const listening = output.match(/coallab listening on (http:\/\/127\.0\.0\.1:\d+)/);
    if (!listening) continue;
    base = listening[1];
    try {
      const r = await fetch(`${base}/health`);
      if (r.ok) return;
    } catch { /* not yet */ }
  }
  throw new Error(`coallab serve did not answer /health:\n${output}`);
}

async function snap(page, name) {
  shot += 1;
  const file = join(shots, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log('screenshot', file);
}

// A fresh browser context per person (own cookies), in `lang`.
async function signIn(user, lang) {
  const context = await browser.newContext({ locale: lang === 'en' ? 'en-US' : 'zh-CN' });
  const page = await context.newPage();
  current = page;
  page.setDefaultTimeout(30000);
  await page.goto(`${base}/`);
  // Not signed in: `/` → `/ui/` → the sign-in page.
  assert.match(page.url(), /\/ui\/login/);
  if (lang === 'en') {
    await page.click('#lang-switch');
    await page.waitForSelector('html[lang="en"]');
  }
  await page.fill('#username', user);
  await page.fill('#password', `${user}-demo-pass`);
  await snap(page, `${lang}-login-${user}`);
  await page.click('#login-submit');
  await page.waitForSelector('#whoami');
  assert.equal(await page.textContent('#whoami'), user);
  return { context, page };
}

async function flashText(page) {
  return (await page.textContent('#flash')).replace(/\s+/g, ' ').trim();
}

// Enters one determination and returns the outcome code shown at once.
async function enter(page, analysis, value) {
  await page.selectOption('#analysis', analysis);
  await page.fill('#value', value);
  await page.click('#enter-submit');
  await page.waitForSelector('#flash');
  const outcome = await page.getAttribute('#outcome', 'data-outcome').catch(() => null);
  if (!outcome) throw new Error(`no precision outcome after ${analysis} ${value}: ${await flashText(page)}`);
  return outcome;
}

async function action(page, name) {
  await page.click(`#action-${name}`);
  await page.waitForSelector('#flash');
}

async function flow(lang, n) {
  const L = lang === 'en'
    ? { fail: 'fail', pass: 'pass', another: 'one more determination needed', accepted: 'Accepted' }
    : { fail: '不合格', pass: '合格', another: '需再做一次测定', accepted: '结果接受' };
  const seal = `E2E-${lang}-${Date.now()}`;
  log(`== flow in ${lang}`);

  // 1. Technician: register, receive, start, determinations, submit.
  const tech = await signIn('tech-wang', lang);
  let p = tech.page;
  await p.click('a[href="/ui/lab"]');
  await snap(p, `${lang}-worklist`);
  await p.click('a[href="/ui/lab/register"] >> nth=0');
  await p.fill('#supplier_code', 'SP-02');
  await p.fill('#sampler1', '张伟');
  await p.fill('#sampler2', '刘洋');
  await p.fill('#coal_category', '无烟块煤');
  await p.fill('#test_seal_no', `T-${seal}`);
  await p.fill('#retained_seal_no', `B-${seal}`);
  await snap(p, `${lang}-register`);
  await p.click('#register-submit');
  await p.waitForSelector('#sample-code');
  const code = (await p.textContent('#sample-code')).trim();
  const labCode = (await p.textContent('#lab-code')).trim();
  log('registered', code, labCode);
  assert.match(code, /^DEMO-\d{4}-\d{6}$/);
  // Technicians work blind: the bench page names no supplier.
  assert.ok(!(await p.content()).includes('SP-02'), 'the technician must not see the supplier');
  await action(p, 'receive');
  assert.equal(await p.getAttribute('#sample-state', 'data-state'), 'received');
  await action(p, 'start');
  assert.equal(await p.getAttribute('#sample-state', 'data-state'), 'initial_testing');
  assert.equal(await enter(p, 'mad', '2.10'), 'needs_another_determination'); // one of two
  assert.equal(await enter(p, 'mad', '2.16'), 'accepted');
  assert.equal((await p.textContent('#outcome-mean')).trim(), '2.13');
  assert.equal(await enter(p, 'aad', '15.02'), 'needs_another_determination');
  assert.equal(await enter(p, 'aad', '15.37'), 'needs_another_determination');
  // The pair is over r: the page says so at once, with the range and the allowed range.
  const over = await flashText(p);
  assert.ok(over.includes(L.another), over);
  assert.ok(over.includes('0.35') && over.includes('0.30'), over);
  await snap(p, `${lang}-pair-over-r`);
  assert.equal(await enter(p, 'aad', '15.20'), 'accepted');
  assert.match((await p.textContent('#outcome-mean')).trim(), /^15\.19666/);
  assert.equal(await enter(p, 'st_ad', '0.98'), 'needs_another_determination');
  assert.equal(await enter(p, 'st_ad', '1.00'), 'accepted');
  assert.equal((await p.textContent('#outcome-mean')).trim(), '0.99');
  // Converted results and the verdict preview: St,d 1.01154… fails.
  assert.equal((await p.textContent('#preview-verdict')).trim(), L.fail);
  assert.match(await p.textContent('#preview tr[data-param="std"]'), /1\.0115/);
  await snap(p, `${lang}-preview`);
  await action(p, 'submit');
  assert.equal(await p.getAttribute('#sample-state', 'data-state'), 'initial_review');
  await tech.context.close();

  // 2. Reviewer: release from the queue.
  const rev = await signIn('rev-zhao', lang);
  p = rev.page;
  await p.click('a[href="/ui/review"]');
  await snap(p, `${lang}-review-queue`);
  await p.click(`tr[data-sample="${code}"] button.release`);
  await p.waitForSelector('#flash');
  assert.equal(await p.$(`tr[data-sample="${code}"]`), null, 'released: off the queue');
  await rev.context.close();

  // 3. Regulator: sees the failure, records the receipt and the appeal.
  const reg = await signIn('reg-chen', lang);
  p = reg.page;
  await p.click('a[href="/ui/regulator"]');
  await p.waitForSelector('#by-supplier');
  await snap(p, `${lang}-dashboard`);
  await p.click('#by-supplier tr[data-supplier="SP-02"] a');
  await p.waitForSelector('#supplier-code');
  const row = `#supplier-samples tr[data-sample="${code}"]`;
  assert.equal((await p.textContent(`${row} .final`)).trim(), L.fail);
  await snap(p, `${lang}-supplier-failure`);
  await p.click(`${row} a`);
  await p.waitForSelector('#final-verdict');
  assert.equal((await p.textContent('#final-verdict')).trim(), L.fail);
  await snap(p, `${lang}-regulator-sample`);
  await p.click('#receipt-submit');
  await p.waitForSelector('#appeal-submit');
  await p.fill('#retained_seal_no', `B-${seal}`);
  await p.fill('#retained_condition', lang === 'en' ? 'seal intact' : '封条完好');
  await p.fill('#reason', lang === 'en' ? 'the enterprise appeals' : '企业申请复检');
  await snap(p, `${lang}-appeal`);
  await p.click('#appeal-submit');
  await p.waitForSelector('#flash');
  assert.equal(await p.getAttribute('#sample-state', 'data-state'), 'retest_testing');
  await reg.context.close();

  // 4. The second technician enters the retest.
  const tech2 = await signIn('tech-li', lang);
  p = tech2.page;
  await p.click('a[href="/ui/lab"]');
  await p.click(`tr[data-sample="${code}"] a`);
  await p.waitForSelector('#enter-submit');
  for (const [a, v] of [['mad', '2.12'], ['mad', '2.14'], ['aad', '15.10'], ['aad', '15.20'],
    ['st_ad', '0.95'], ['st_ad', '0.96']]) {
    await enter(p, a, v);
  }
  assert.match((await p.textContent('#outcome-mean')).trim(), /^0\.955/);
  assert.equal((await p.textContent('#preview-verdict')).trim(), L.pass);
  await snap(p, `${lang}-retest`);
  await action(p, 'submit');
  assert.equal(await p.getAttribute('#sample-state', 'data-state'), 'retest_review');
  await tech2.context.close();

  // 5. The reviewer releases the retest; its verdict is final and closes the sample.
  const rev2 = await signIn('rev-zhao', lang);
  p = rev2.page;
  await p.click('a[href="/ui/review"]');
  await p.click(`tr[data-sample="${code}"] button.release`);
  await p.waitForSelector('#flash');
  await rev2.context.close();

  // 6. The final verdict on the supplier page.
  const reg2 = await signIn('reg-chen', lang);
  p = reg2.page;
  await p.goto(`${base}/ui/regulator/suppliers/SP-02`);
  await p.waitForSelector('#supplier-code');
  assert.equal((await p.textContent(`${row} .final`)).trim(), L.pass);
  assert.equal(await p.getAttribute(row, 'data-state'), 'closed');
  const last = (await p.textContent('#supplier-final-verdict')).replace(/\s+/g, ' ');
  assert.ok(last.includes(code) && last.includes(L.pass), last);
  // The chart is the API's SVG, loaded with the session cookie.
  const chart = await p.$eval('img.chart', (img) => img.complete && img.naturalWidth > 0);
  assert.ok(chart, 'the supplier chart loads');
  await snap(p, `${lang}-supplier-final`);
  await reg2.context.close();

  // 7. The auditor: the chain still holds after all this, the trail has the appeal, the TAT
  //    report offers its CSV.
  const aud = await signIn('aud-liu', lang);
  p = aud.page;
  await p.click('a[href="/ui/audit/chain"]');
  assert.equal(await p.getAttribute('#chain-status', 'data-ok'), 'true');
  await snap(p, `${lang}-audit-chain`);
  await p.click('a[href="/ui/audit/trail"]');
  await p.fill('#action', 'sample.request_retest');
  await p.click('form.filters button');
  await p.waitForSelector('#trail');
  assert.ok((await p.textContent('#trail')).includes(code), 'the appeal is in the audit trail');
  await snap(p, `${lang}-audit-trail`);
  await p.click('a[href="/ui/audit/tat"]');
  await p.waitForSelector('#tat-csv');
  const csv = await p.evaluate(async () => {
    const r = await fetch(document.querySelector('#tat-csv').href);
    return `${r.status} ${(await r.text()).split('\n')[0]}`;
  });
  assert.match(csv, /^200 as_of,stage,group,/);
  await snap(p, `${lang}-audit-tat`);
  await aud.context.close();
  log(`== flow in ${lang} passed (${code})`);
}

// The admin adds a technician through the form; the new user signs in.
async function adminSteps(lang) {
  const L = lang === 'en'
    ? { added: 'User added', invalid: 'Invalid value' }
    : { added: '用户已新增', invalid: '输入值无效' };
  const user = `tech-e2e-${lang}`;
  log(`== admin steps in ${lang}`);
  const adm = await signIn('admin', lang);
  const p = adm.page;
  await p.goto(`${base}/ui/admin/users`);
  await p.waitForSelector('#add-user');
  await p.fill('#username', user);
  await p.fill('#display_name', lang === 'en' ? 'E2E Technician' : '端到端检验员');
  await p.selectOption('#role', 'technician');
  // A technician without a lab: refused by the server on the page, the typed name kept, the
  // password not. (A password under 12 characters the browser refuses itself: minlength.)
  await p.selectOption('#lab', '');
  await p.fill('#password', `${user}-demo-pass`);
  await p.click('#user-submit');
  await p.waitForSelector('#form-error');
  const refusal = await p.textContent('#form-error');
  assert.ok(refusal.includes(L.invalid) && refusal.includes('need a lab'), refusal);
  assert.equal(await p.inputValue('#username'), user);
  assert.equal(await p.inputValue('#password'), '');
  await snap(p, `${lang}-admin-user-refused`);
  await p.selectOption('#lab', 'DEMO');
  await p.fill('#password', `${user}-demo-pass`);
  await p.click('#user-submit');
  await p.waitForSelector('#flash');
  assert.ok((await flashText(p)).includes(L.added), await flashText(p));
  assert.ok(await p.$(`tr[data-user="${user}"]`), 'the new user is listed');
  await snap(p, `${lang}-admin-user-added`);
  await p.goto(`${base}/ui/admin/calendars`);
  await p.waitForSelector('#calendar-form');
  await snap(p, `${lang}-admin-calendars`);
  await p.goto(`${base}/ui/admin/limit-sets?edit=cn-he-handan-2013`);
  await p.waitForSelector('#limit-set-form');
  assert.ok((await p.inputValue('#limit-set-json')).includes('"cn-he-handan-2013"'));
  await snap(p, `${lang}-admin-limit-sets`);
  await adm.context.close();
  const tech = await signIn(user, lang);
  await tech.page.click('a[href="/ui/lab"]');
  await tech.page.waitForSelector('h1');
  assert.match(tech.page.url(), /\/ui\/lab$/);
  await snap(tech.page, `${lang}-new-user-worklist`);
  await tech.context.close();
  log(`== admin steps in ${lang} passed`);
}

async function main() {
  log('coallab binary', binary);
  await startServer();
  log('server up at', base);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // Playwright refuses --user-data-dir in args: launch() gives chromium a fresh temporary
    // profile of its own, removed on close.
  });
  await flow('zh', 1);
  await flow('en', 2);
  await adminSteps('zh');
  await adminSteps('en');
}

let failed = false;
try {
  await main();
  log('E2E passed; screenshots in', shots);
} catch (e) {
  failed = true;
  console.error('E2E FAILED:', e);
  if (current) {
    await snap(current, 'FAILED').catch(() => {});
    const text = await current.textContent('main').catch(() => '');
    console.error('page', current.url(), ':', (text || '').replace(/\s+/g, ' ').slice(0, 1500));
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
