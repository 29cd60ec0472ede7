// What the console tests share: the real server (`cargo run -- serve`) on a fresh data
// directory, a fake model server, and Debian's Chromium driven by playwright-core (the
// system browser; nothing is downloaded).

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SHOTS = join(ROOT, 'docs', 'console');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Environment for a server: ours only, embedded stores, the offline model unless given. */
function serverEnv(extra) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(OPENAI_|FEATHERLESS_|EMBEDDING_|PINECONE_|POSTGRES_|CLICKHOUSE_|NEO4J_|LLM_)/.test(k) || k === 'API_KEY' || k === 'PORT') delete env[k];
  }
  return { ...env, RUST_LOG: env.RUST_LOG || 'warn', LOG_LEVEL: 'warn', ...extra };
}

/**
 * `cargo run -- ARGS` in the repository (CI builds first), or the binary named by
 * ENG_INTEL_BIN (e.g. when several checkouts share one CARGO_TARGET_DIR).
 */
function command(args) {
  const bin = process.env.ENG_INTEL_BIN;
  return bin ? [bin, args] : ['cargo', ['run', '--locked', '-q', '--', ...args]];
}

function cargo(args, env) {
  const [cmd, argv] = command(args);
  return spawn(cmd, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function seed(dataDir) {
  const [cmd, argv] = command(['seed']);
  execFileSync(cmd, argv, { cwd: ROOT, env: serverEnv({ DATA_DIR: dataDir }), stdio: 'inherit' });
}

const temps = [];
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

const children = new Set();
/** Kills every server still running (a failed setup leaves no process behind). */
export function killAll() {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', () => {
  killAll();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Starts `eng-intel serve` and waits until /api/health answers. */
export async function startServer({ dataDir = tempDir('console-data-'), env = {} } = {}) {
  const port = await freePort();
  const child = cargo(['serve', '--port', String(port)], serverEnv({ DATA_DIR: dataDir, ...env }));
  children.add(child);
  child.once('exit', () => children.delete(child));
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 600_000; // a cold `cargo run` may compile first
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${url}/api/health`);
      if (r.status < 500) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`the server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url, port, dataDir, child, log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * An OpenAI-compatible model server that streams a reply one word every 150 ms and never
 * finishes: a run shows its tokens as they arrive and waits until it is stopped.
 */
export async function streamingModel() {
  const sockets = new Set();
  let streaming = 0;
  const server = createServer((req, res) => {
    req.resume();
    streaming++;
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    let n = 0;
    const tick = setInterval(() => {
      const chunk = { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'streaming',
        choices: [{ index: 0, delta: n === 0 ? { role: 'assistant', content: 'Streaming ' } : { content: `word${n} ` }, finish_reason: null }] };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      n++;
    }, 150);
    res.on('close', () => { clearInterval(tick); streaming--; });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/v1`,
    /** Replies still being streamed (a cancelled run closes its request). */
    streaming: () => streaming,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM`);
  }
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // launch() gives every run a fresh temporary profile (its --user-data-dir).
      '--disable-dev-shm-usage'],
  });
}

/**
 * A page that records console errors and uncaught exceptions; `errors()` lists those not
 * matching `allow` (regexes of errors a test expects, e.g. a 401 before the key is typed).
 */
export async function newPage(browser, { allow = [], colorScheme = 'light', viewport = { width: 1280, height: 860 } } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  const seen = [];
  page.on('console', (m) => { if (m.type() === 'error') seen.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => d.accept());
  page.errors = () => seen.filter((e) => !allow.some((re) => re.test(e)));
  return page;
}

export async function api(server, path, body, key) {
  const headers = { 'Content-Type': 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  const r = await fetch(`${server.url}${path}`, body === undefined ? { headers } : { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

export const tool = async (server, name, args = {}) => (await api(server, `/api/tools/${name}`, args)).result;
