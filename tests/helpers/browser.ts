import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parseJson } from './json.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * True when Debian's Chromium is installed. Its absence fails the run, unless
 * SKIP_BROWSER=1 says to skip the browser tests (and the run says so).
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.SKIP_BROWSER === '1') {
    console.warn(`SKIPPED: browser tests (${CHROMIUM} is missing and SKIP_BROWSER=1)`);
    return false;
  }
  throw new Error(`${CHROMIUM} is missing: install it (make test does) or set SKIP_BROWSER=1 to skip the browser tests`);
}

/** `extraArgs`, e.g. `--ignore-certificate-errors` for a test's self-signed certificate. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/**
 * The page's args editor (#args) parsed as JSON, null while it is empty; a
 * test compares it with the args it expects. Not yet valid JSON throws, which
 * an expect.poll retries.
 */
export async function editorArgs(page: Page): Promise<unknown> {
  const text = await page.inputValue('#args');
  return text === '' ? null : parseJson(text);
}
