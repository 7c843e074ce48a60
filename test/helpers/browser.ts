// Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven
// by puppeteer-core (which never downloads a browser). Every launch gets a
// fresh user-data-dir, removed after the browser is gone; every wait has a
// bound; the browser is closed (then killed, if closing hangs) however the
// test ends. Host names other than loopback resolve to nothing, so a page
// that reached for a CDN would fail here as it would on an offline machine,
// and every request the page made is recorded for the test to check.

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** MMO_TEST_CHROMIUM overrides the path (another distribution's package). */
export const CHROMIUM = process.env.MMO_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** The launch flags every browser test uses (see the developers' guide). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Offline: any name but loopback fails to resolve.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
  // Timers in a page nobody looks at must not be throttled (the pages poll).
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-dev-shm-usage',
] as const;

export interface TestBrowser {
  browser: Browser;
  /** The user-data-dir of this launch (gone after close). */
  profileDir: string;
  /** A new tab with bounded default timeouts; its requests and console errors are recorded. */
  newPage(opts?: { width?: number; height?: number }): Promise<TestPage>;
  /** Closes the browser (SIGKILL after closeTimeoutMs) and removes its profile. Idempotent. */
  close(): Promise<void>;
}

export interface TestPage {
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
  /** Uncaught page errors and console.error lines. */
  errors: string[];
  /** Responses with status 400 or more, as "status url". */
  failed: string[];
  /** Requests to anything but 127.0.0.0/8 or localhost (a page must work offline). */
  offsite(): string[];
}

export interface LaunchOptions {
  /** Launch bound, ms. Default 20000. */
  launchTimeoutMs?: number;
  /** Default bound of every page wait (waitForFunction, click, goto), ms. Default 10000. */
  waitTimeoutMs?: number;
  /** How long close() waits for a clean exit before killing, ms. Default 5000. */
  closeTimeoutMs?: number;
}

const open = new Set<TestBrowser>();
process.on('exit', () => {
  // A test that crashed past its finally: leave no browser and no profile behind.
  for (const b of open) {
    try {
      b.browser.process()?.kill('SIGKILL');
    } catch {
      // already gone
    }
    rmSync(b.profileDir, { recursive: true, force: true, maxRetries: 3 });
  }
});

function isLoopback(url: string): boolean {
  if (url.startsWith('data:') || url.startsWith('about:') || url.startsWith('blob:')) return true;
  try {
    const h = new URL(url).hostname;
    return h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h);
  } catch {
    return false;
  }
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or set MMO_TEST_CHROMIUM`);
  }
  const waitTimeoutMs = opts.waitTimeoutMs ?? 10_000;
  const closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
  const profileDir = mkdtempSync(join(tmpdir(), 'mmo-chromium-'));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      // Our own flags, not puppeteer's --headless=new: the list above is the whole story.
      headless: false,
      args: [...CHROMIUM_FLAGS, '--hide-scrollbars', '--mute-audio'],
      userDataDir: profileDir,
      pipe: true, // CDP over a pipe: no debugging port on the machine
      timeout: opts.launchTimeoutMs ?? 20_000,
      protocolTimeout: waitTimeoutMs * 3,
      defaultViewport: { width: 1280, height: 900 },
      handleSIGINT: true,
      handleSIGTERM: true,
      handleSIGHUP: true,
    });
  } catch (e) {
    rmSync(profileDir, { recursive: true, force: true, maxRetries: 3 });
    throw e;
  }
  let closing: Promise<void> | null = null;
  const tb: TestBrowser = {
    browser,
    profileDir,
    async newPage(p = {}) {
      const page = await browser.newPage();
      page.setDefaultTimeout(waitTimeoutMs);
      page.setDefaultNavigationTimeout(waitTimeoutMs);
      if (p.width || p.height) await page.setViewport({ width: p.width ?? 1280, height: p.height ?? 900 });
      const requests: string[] = [];
      const errors: string[] = [];
      const failed: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      page.on('pageerror', (e) => errors.push(String(e instanceof Error ? e.message : e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      return { page, requests, errors, failed, offsite: () => requests.filter((u) => !isLoopback(u)) };
    },
    close() {
      closing ??= (async () => {
        const proc = browser.process();
        const exited = proc && proc.exitCode === null ? new Promise<void>((r) => proc.once('exit', () => r())) : Promise.resolve();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          browser.close().catch(() => undefined),
          new Promise<void>((r) => (timer = setTimeout(r, closeTimeoutMs))),
        ]);
        clearTimeout(timer);
        if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        await Promise.race([exited, new Promise<void>((r) => setTimeout(r, closeTimeoutMs).unref())]);
        open.delete(tb);
        rmSync(profileDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      })();
      return closing;
    },
  };
  open.add(tb);
  return tb;
}

/** Runs fn with a fresh browser and closes it afterwards, whatever fn does. */
export async function withBrowser<T>(fn: (b: TestBrowser) => Promise<T>, opts: LaunchOptions = {}): Promise<T> {
  const b = await launchBrowser(opts);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/**
 * page.waitForFunction with a name: on timeout the error says what did not
 * happen (and, when `state` is given, what the page showed instead).
 */
export async function until<A extends unknown[]>(
  page: Page,
  what: string,
  fn: (...args: A) => unknown,
  opts: { timeout?: number; state?: () => unknown } = {},
  ...args: A
): Promise<void> {
  try {
    await page.waitForFunction(fn as (...a: unknown[]) => unknown, opts.timeout === undefined ? {} : { timeout: opts.timeout }, ...args);
  } catch (e) {
    let seen = '';
    if (opts.state) {
      try {
        seen = `; the page shows ${JSON.stringify(await page.evaluate(opts.state as () => unknown))}`;
      } catch {
        // the page is gone: the first error says enough
      }
    }
    throw new Error(`browser: ${what}: ${(e as Error).message}${seen}`, { cause: e });
  }
}
