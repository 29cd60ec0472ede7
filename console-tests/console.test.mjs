// Browser tests of the web console: the real server on the demo organisation, Debian's
// headless Chromium. Run: cd console-tests && npm ci && npm test (README, "Web console").

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  SHOTS, startServer, killAll, streamingModel, launch, newPage, api, tool, seed, tempDir,
} from './harness.mjs';

const T = 30_000; // per wait
let browser;
let main;         // offline model, demo organisation plus one hostile document
let keyed;        // API_KEY set, a model server that streams and never finishes
let model;
const KEY = 'console-test-key';
const XSS_TITLE = 'Zebra runbook <img src=x onerror="window.pwned=1">';
const XSS_BODY = 'Zebra failover steps. <script>window.pwned=2</script> <a href="javascript:window.pwned=3">click</a> [link](javascript:window.pwned=6) onerror=alert(1) **bold** | not | a table';

before(async () => {
  const data = tempDir('console-data-');
  seed(data);
  // A document is data: whatever it contains must render as text.
  execFileSync('sqlite3', [join(data, 'eng-intel.sqlite'),
    `INSERT INTO documents (id, kind, title, body, team_id, service_id, author_id, incident_id, created_at)
     SELECT MAX(id) + 1, 'runbook', '${XSS_TITLE.replace(/'/g, "''")}', '${XSS_BODY.replace(/'/g, "''")}', NULL, NULL, 1, NULL, '2025-06-01T00:00:00Z' FROM documents`]);
  model = await streamingModel();
  await Promise.all([
    startServer({ dataDir: data }).then((s) => { main = s; }),
    // An empty data directory: serve creates the demo organisation itself.
    startServer({ env: { API_KEY: KEY, OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'x', OPENAI_MODEL: 'streaming', LLM_MAX_RETRIES: '0' } })
      .then((s) => { keyed = s; }),
    launch().then((b) => { browser = b; }),
  ]);
});

after(async () => {
  await browser?.close();
  await Promise.all([main?.stop(), keyed?.stop(), model?.stop()]);
  killAll();
});

async function ask(page, question) {
  const before = await page.locator('#messages > li.msg.assistant').count();
  await page.fill('#question', question);
  await page.keyboard.press('Enter');
  const li = page.locator('#messages > li.msg.assistant').nth(before);
  await li.waitFor({ timeout: T });
  return li;
}

const done = (li) => li.locator('.elapsed').filter({ hasText: /\d\.\d\d s/ }).waitFor({ timeout: T });

/** A screenshot into docs/console/; `height` grows the window so the page fits. */
async function shot(page, name, height) {
  const before = page.viewportSize();
  if (height) await page.setViewportSize({ width: before.width, height });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  if (height) await page.setViewportSize(before);
}

function noErrors(page) {
  assert.deepEqual(page.errors(), [], 'console errors on the page');
}

test('chat: routing badge, tool timeline, answer table; follow-up; reload finds the thread', async () => {
  const page = await newPage(browser);
  const t0 = Date.now();
  await page.goto(`${main.url}/`);
  await page.locator('#question').waitFor();
  const firstPaint = await page.evaluate(() => performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint')?.startTime);
  const bytes = await page.evaluate(() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .filter((e) => !e.name.includes('/api/')).reduce((n, e) => n + e.decodedBodySize, 0));
  console.log(`chat: first contentful paint ${firstPaint?.toFixed(0)} ms, ready in ${Date.now() - t0} ms, ${bytes} bytes of console files`);
  assert.ok(firstPaint < 1000, `first paint took ${firstPaint} ms`);

  const a1 = await ask(page, 'What are our DORA metrics?');
  await done(a1);
  await assert.doesNotReject(a1.locator('.badge.route', { hasText: 'DORA_Pro' }).waitFor({ timeout: T }));
  assert.match(await a1.locator('.badge.model').innerText(), /offline/);
  assert.equal(await a1.locator('.timeline li.ok code', { hasText: 'dora_metrics' }).count(), 1);
  assert.ok(await a1.locator('.answer table tbody tr').count() >= 4, 'the answer has a table');
  assert.match(await a1.locator('.answer table').innerText(), /Change failure rate/);
  assert.match(await page.locator('#status-bar').innerText(), /offline · analytics/);
  // The trace opens and lists node timings.
  await a1.locator('details.trace summary').click();
  assert.ok(await a1.locator('details.trace tr.ev-node_end').count() >= 2);
  const thread = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
  assert.ok(thread, 'the URL names the thread');

  const a2 = await ask(page, 'And what about the Payments team?');
  await done(a2);
  assert.match(await a2.innerText(), /Payments/);
  assert.equal(decodeURIComponent(new URL(page.url()).hash.split('/')[2]), thread, 'same thread');
  const stored = await api(main, `/api/threads/${thread}`);
  assert.equal(stored.messages.length, 4, 'both turns stored in one thread');
  await page.screenshot({ path: join(SHOTS, 'chat.png') });

  // Reload on the bare page: the thread is in the sidebar and opens with its table.
  await page.goto(`${main.url}/`);
  const item = page.locator(`#thread-list li[data-id="${thread}"] .open`);
  await item.waitFor({ timeout: T });
  await item.click();
  await page.locator('#messages .answer table').first().waitFor({ timeout: T });
  assert.equal(await page.locator('#messages > li').count(), 4);

  // Rename, then delete, another thread through the sidebar.
  const other = await api(main, '/api/threads', { title: 'Scratch' });
  await page.reload();
  const li = page.locator(`#thread-list li[data-id="${other.thread_id}"]`);
  await li.locator('button[title=Rename]').click();
  await page.locator('#thread-list input').fill('Renamed scratch');
  await page.keyboard.press('Enter');
  await page.locator(`#thread-list li[data-id="${other.thread_id}"] .open`, { hasText: 'Renamed scratch' }).waitFor({ timeout: T });
  await page.locator(`#thread-list li[data-id="${other.thread_id}"] button[title=Delete]`).click();
  await page.locator(`#thread-list li[data-id="${other.thread_id}"]`).waitFor({ state: 'detached', timeout: T });
  noErrors(page);
});

test('chat with API_KEY: asks for the key once; tokens stream; stop cancels a run; a model server that is down is shown', async () => {
  const page = await newPage(browser, { allow: [/status of 401/] });
  await page.goto(`${keyed.url}/`);
  await page.locator('#key-dialog[open]').waitFor({ timeout: T });
  await page.fill('#key-input', KEY);
  await page.click('#key-dialog button[value=ok]');
  await page.locator('#thread-list li').first().waitFor({ timeout: T });

  // The model streams and never finishes: its tokens show as they arrive, then Stop.
  const a1 = await ask(page, 'Find developers with Python expertise');
  await page.locator('#stop').waitFor({ state: 'visible', timeout: T });
  await a1.locator('.tokens', { hasText: 'word3' }).waitFor({ timeout: T });
  assert.match(await a1.locator('.elapsed').innerText(), /^\d+\.\d s$/, 'the timer runs');
  await page.screenshot({ path: join(SHOTS, 'chat-streaming.png') });
  await page.click('#stop');
  await a1.locator('.error-box', { hasText: 'Stopped' }).waitFor({ timeout: T });
  assert.ok(await page.locator('#stop').isHidden());
  // The server cancelled the run: its request to the model is closed.
  const deadline = Date.now() + T;
  while (model.streaming() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(model.streaming(), 0, 'the model request was cancelled with the run');
  assert.ok(await page.locator('#send').isEnabled());
  await page.screenshot({ path: join(SHOTS, 'chat-stopped.png') });

  // The model server goes down: the chain falls back and the answer says so.
  await model.stop();
  const a2 = await ask(page, 'Find developers with Python expertise');
  await done(a2);
  await a2.locator('.model-down[role=alert]').waitFor({ timeout: T });
  assert.match(await a2.locator('.model-down').innerText(), /streaming/);
  await page.screenshot({ path: join(SHOTS, 'chat-model-down.png') });
  assert.match(await a2.locator('.answer').innerText(), /Python/, 'the offline model still answered');
  // The key was asked for once: a reload in the same tab does not ask again.
  await page.reload();
  await page.locator('#thread-list li').first().waitFor({ timeout: T });
  assert.equal(await page.locator('#key-dialog[open]').count(), 0);
  noErrors(page);
});

test('chat: the API server going away is an error with Retry', async () => {
  const server = await startServer({ dataDir: main.dataDir });
  const page = await newPage(browser, { allow: [/ERR_CONNECTION_REFUSED|Failed to fetch|ERR_EMPTY_RESPONSE/] });
  await page.goto(`${server.url}/`);
  await page.locator('#thread-list li').first().waitFor({ timeout: T });
  await server.stop();
  const a = await ask(page, 'Who is on call?');
  await a.locator('.error-box[role=alert]').waitFor({ timeout: T });
  assert.match(await a.locator('.error-box').innerText(), /cannot be reached/);
  assert.equal(await a.locator('button.retry').count(), 1);
  noErrors(page);
});

test('delivery dashboard: the numbers are dora_metrics for the organisation and a team', async () => {
  const page = await newPage(browser);
  await page.goto(`${main.url}/#/delivery`);
  await page.locator('[data-scope=org][data-metric=lead_time]').waitFor({ timeout: T });
  const teams = (await tool(main, 'headcount')).map((t) => t.team).sort();
  const team = teams.includes('Payments') ? 'Payments' : teams[0];
  await page.locator(`td[data-scope="${team}"][data-metric=lead_time]`).waitFor({ timeout: T });
  const values = (r) => ({
    deployment_frequency: r.deployment_frequency.median_days_per_week,
    lead_time: r.lead_time.median_hours,
    change_failure_rate: r.change_failure_rate.rate == null ? null : r.change_failure_rate.rate * 100,
    recovery_time: r.recovery_time.median_hours,
  });
  const fmt = (x) => (x == null ? '—' : Number.isInteger(x) ? String(x) : x.toFixed(1));
  for (const [scope, args, sel] of [['org', { days: 90 }, '.kpi'], [team, { team, days: 90 }, 'td']]) {
    const want = values(await tool(main, 'dora_metrics', args));
    const r = await tool(main, 'dora_metrics', args);
    for (const [metric, v] of Object.entries(want)) {
      const cell = page.locator(`${sel}[data-scope="${scope}"][data-metric=${metric}]`);
      const shown = await cell.getAttribute('data-value');
      assert.equal(shown === '' ? null : Number(shown), v, `${scope} ${metric}`);
      assert.ok((await cell.innerText()).includes(fmt(v)), `${scope} ${metric} shows ${fmt(v)}`);
      assert.ok((await cell.innerText()).includes(r[metric].band), `${scope} ${metric} band ${r[metric].band}`);
    }
  }
  // A chosen window (the planted failing week): still the tool's numbers.
  const week = { since: '2025-05-12', until: '2025-05-18' };
  await page.selectOption('#dora-days', 'custom');
  await page.fill('#dora-since', week.since);
  await page.fill('#dora-until', week.until);
  const cfr = values(await tool(main, 'dora_metrics', week)).change_failure_rate;
  await page.locator(`.kpi[data-scope=org][data-metric=change_failure_rate][data-value="${cfr}"]`).waitFor({ timeout: T });
  await page.selectOption('#dora-days', '90');
  await page.locator(`.kpi[data-scope=org][data-metric=change_failure_rate][data-value="${values(await tool(main, 'dora_metrics', { days: 90 })).change_failure_rate}"]`).waitFor({ timeout: T });

  // Weekly trends: a point opens the deployments behind it.
  await page.locator('[data-chart=recovery] circle.pt').last().waitFor({ timeout: T });
  await shot(page, 'delivery', 1500);
  await page.locator('[data-chart=deployments] circle.pt').last().click();
  await page.locator('#trend-detail table tbody tr').first().waitFor({ timeout: T });
  noErrors(page);
});

test('1:1 prep: search a person as you type, get the brief', async () => {
  const page = await newPage(browser);
  await page.goto(`${main.url}/#/one-on-one`);
  const members = await tool(main, 'team_members', { team: 'Payments' });
  const person = members.find((m) => m.name === 'Sofia Rossi') ?? members[1];
  await page.locator('#person-search').fill(person.name.split(' ')[0].slice(0, 4).toLowerCase());
  await page.locator('#person-list [role=option]', { hasText: person.name }).waitFor({ timeout: T });
  await page.locator('#person-list [role=option]', { hasText: person.name }).click();
  const brief = page.locator('#brief .answer');
  await brief.locator('*').first().waitFor({ timeout: T });
  const text = await brief.innerText();
  assert.match(text, new RegExp(person.name));
  assert.match(text, /talking points/i);
  assert.ok(await page.locator('#brief .timeline li.ok').count() >= 5, 'the brief called the tools');
  await shot(page, 'one-on-one', 1600);
  noErrors(page);
});

test('anomaly alerts: worst first, the planted failing week marked, a link to the chat', async () => {
  const page = await newPage(browser);
  await page.goto(`${main.url}/#/anomalies`);
  await page.locator('#anomaly-list article').first().waitFor({ timeout: T });
  const failed = await tool(main, 'metric_anomalies', { metric: 'failed_deployments' });
  const week = failed.anomalies.find((a) => a.granularity === 'week');
  assert.ok(week, 'the tool reports a failing week');
  assert.equal(week.period, '2025-05-12', 'the planted failing week (docs/DATA.md)');
  const card = page.locator('article[data-metric=failed_deployments]');
  await card.locator(`li[data-period="${week.period}"]`).waitFor({ timeout: T });
  assert.match(await card.locator('circle[data-marked=true]').first().getAttribute('aria-label'), new RegExp(week.period));
  assert.ok(await page.locator('#anomaly-list article').count() >= 2);
  assert.equal(await page.locator('#anomaly-list article').first().locator('.badge').innerText(), 'high');
  await shot(page, 'anomalies', 1400);
  await card.locator('a.ask-chat').click();
  const a = page.locator('#messages > li.msg.assistant').first();
  await a.locator('.timeline li.ok').first().waitFor({ timeout: T });
  noErrors(page);
});

test('graphs: the supervisor drawn, the configuration valid, the playground lights the path', async () => {
  const page = await newPage(browser);
  await page.goto(`${main.url}/#/graphs`);
  const sup = await api(main, '/api/graphs/supervisor');
  await page.locator(`svg.graph .node[data-node="${sup.start}"]`).waitFor({ timeout: T });
  for (const n of sup.nodes) assert.equal(await page.locator(`svg.graph .node[data-node="${n.name}"]`).count(), 1, n.name);
  assert.equal(await page.locator('#graph-pick').inputValue(), 'supervisor');
  await page.locator('#config-state [data-state=same]').waitFor({ timeout: T });
  await page.fill('#playground-q', 'What are our DORA metrics?');
  await page.click('#playground button');
  await page.locator('svg.graph .node.visited').first().waitFor({ timeout: T });
  await page.locator('#playground-out .answer table').waitFor({ timeout: T });
  await shot(page, 'graphs', 1500);
  noErrors(page);
});

test('a hostile document and question render as text, inert', async () => {
  const page = await newPage(browser);
  await page.goto(`${main.url}/`);
  const q = 'find the zebra failover runbook <img src=x onerror="window.pwned=4"><script>window.pwned=5</script>';
  const a = await ask(page, q);
  await done(a);
  const text = await a.locator('.answer').innerText();
  await page.screenshot({ path: join(SHOTS, 'xss-inert.png') });
  assert.match(text, /Zebra runbook <img src=x onerror="window.pwned=1">/, 'the title is shown as text');
  assert.equal(await page.locator('#messages img, #messages script, #messages a[href^="javascript"]').count(), 0);
  assert.match(await page.locator('#messages .msg.user').last().innerText(), /<script>/);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  noErrors(page);
});

test('the Markdown renderer: tables, lists, code, emphasis; only elements and text', async () => {
  const page = await newPage(browser);
  await page.goto(`${main.url}/`);
  const out = await page.evaluate(async () => {
    const { renderMarkdown } = await import('/console/markdown.js');
    const md = [
      '# Title', '', 'Some **bold**, *em*, `code <b>` and [a link](https://example.org) and [bad](javascript:alert(1)).', '',
      '| a | b |', '|---|--:|', '| 1 | <img src=x onerror=alert(1)> |', '| `x` | **y** |', '',
      '- one', '- two', '  - nested', '1. first', '', '```', '<script>alert(1)</script>', '```', '', '> quoted',
    ].join('\n');
    const div = document.createElement('div');
    div.append(renderMarkdown(md));
    const tags = [...div.querySelectorAll('*')].map((e) => e.tagName.toLowerCase());
    return {
      tags: [...new Set(tags)].sort(),
      cells: [...div.querySelectorAll('td')].map((td) => td.textContent),
      right: div.querySelector('td:nth-child(2)').className,
      links: [...div.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      code: div.querySelector('pre code').textContent,
      text: div.textContent,
    };
  });
  assert.deepEqual(out.tags, ['a', 'blockquote', 'code', 'div', 'em', 'h3', 'li', 'ol', 'p', 'pre', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul']);
  assert.deepEqual(out.cells, ['1', '<img src=x onerror=alert(1)>', 'x', 'y']);
  assert.equal(out.right, 'al-right');
  assert.deepEqual(out.links, ['https://example.org']);
  assert.equal(out.code, '<script>alert(1)</script>');
  assert.match(out.text, /\[bad\]\(javascript:alert\(1\)\)/);
  noErrors(page);
});

test('phone width and dark mode: every page renders without errors', async () => {
  const page = await newPage(browser, { colorScheme: 'dark', viewport: { width: 390, height: 844 } });
  for (const p of ['chat', 'delivery', 'one-on-one', 'anomalies', 'graphs']) {
    await page.goto(`${main.url}/#/${p}`);
    await page.locator(`#page-${p}:not([hidden])`).waitFor({ timeout: T });
    await page.waitForLoadState('networkidle');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${p} is wider than the phone (${overflow}px)`);
  }
  await page.goto(`${main.url}/#/chat`);
  await page.locator('#thread-list li .open', { hasText: 'DORA' }).first().click();
  await page.locator('#messages .answer table').first().waitFor({ timeout: T });
  await page.screenshot({ path: join(SHOTS, 'chat-phone-dark.png') });
  noErrors(page);
});
