import axe from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bearer, tokenFor } from '../helpers/auth.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="40"><text x="8" y="26">{{ status }}</text></svg>';
const OWNER = 'ada';

/** What is printed for a violation: enough to find the element and the rule without opening a report. */
interface Found {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core (the library's own source, injected by the driver: our pages'
 * CSP forbids inline scripts, and a driver's evaluate is not a page script) on
 * the page as it stands, with every rule axe runs by default (WCAG 2 A/AA and
 * best practices), and returns its violations. `disabled` names rules that
 * are not run on this page; each caller says why.
 */
async function violations(page: Page, disabled: string[] = []): Promise<Found[]> {
  await page.evaluate(axe.source);
  const results = await page.evaluate(async (rules) => {
    const injected = (window as unknown as { axe: typeof axe }).axe;
    const run = await injected.run(document, { rules: Object.fromEntries(rules.map((rule) => [rule, { enabled: false }])) });
    return run.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact ?? 'unknown',
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.map(String).join(' ')),
    }));
  }, disabled);
  if (results.length > 0)
    console.error(
      `axe violations on ${page.url()}:\n${results.map((v) => `- ${v.id} (${v.impact}): ${v.help}\n    ${v.targets.join('\n    ')}`).join('\n')}`,
    );
  return results;
}

describe.runIf(chromiumAvailable())('accessibility: axe-core finds no violations on any page of ours, in headless Chromium', () => {
  let running: RunningApp;
  let browser: Browser;
  let token: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    running = await startApp();
    browser = await launchChromium();
    token = await tokenFor(running.api, OWNER);
    const mine = await running.api('POST', `/api/user/${OWNER}/session`, {
      json: { session_id: 'board', template: TEMPLATE, args: { status: 'mine' } },
      headers: bearer(token),
    });
    expect(mine.status).toBe(201);
    const open = await running.api('POST', '/api/session', {
      json: { session_id: 'open-board', template: TEMPLATE, args: { status: 'open' } },
    });
    expect(open.status).toBe(201);
  });
  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  /** A fresh browser profile; logged in as the owner when asked (the token the UI keeps in localStorage). */
  async function newPage(loggedIn = false): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    contexts.push(context);
    if (loggedIn) {
      await context.addInitScript(
        (login) => {
          localStorage.setItem('realtime-svg.token', login.token);
          localStorage.setItem('realtime-svg.user', login.userId);
        },
        { token, userId: OWNER },
      );
    }
    return context.newPage();
  }

  /** A session page once its script has filled the editor, shown the live image and the preview, and said who may write. */
  async function openSession(page: Page, path: string): Promise<void> {
    await page.goto(`${running.baseUrl}/session/${path}`);
    await expect.poll(async () => (await page.inputValue('#args')).length).toBeGreaterThan(0);
    await expect.poll(() => page.evaluate(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    await expect
      .poll(() => page.evaluate(() => (document.querySelector('#edit-preview img') as HTMLImageElement).naturalWidth))
      .toBeGreaterThan(0);
    await page.waitForSelector('[data-page=session][data-feed=live]');
  }

  it('When the home page is opened logged out, then axe finds no violations', async () => {
    const page = await newPage();
    await page.goto(`${running.baseUrl}/`);
    await expect.poll(() => page.textContent('#who')).toBe('Not logged in');
    await expect
      .poll(() => page.evaluate(() => (document.querySelector('#create-preview img') as HTMLImageElement).naturalWidth))
      .toBeGreaterThan(0);
    expect(await violations(page)).toEqual([]);
  });

  it('When the home page is opened logged in, then axe finds no violations (the session list shown)', async () => {
    const page = await newPage(true);
    await page.goto(`${running.baseUrl}/`);
    await expect.poll(() => page.locator('#sessions tr').count()).toBe(1);
    expect(await violations(page)).toEqual([]);
  });

  it('When a public session page is opened, then axe finds no violations', async () => {
    const page = await newPage();
    await openSession(page, 'open-board');
    expect(await violations(page)).toEqual([]);
  });

  it('When a user session page is opened logged out, then axe finds no violations (updating disabled with its reason)', async () => {
    const page = await newPage();
    await openSession(page, `${OWNER}/board`);
    await expect.poll(() => page.textContent('#update-reason')).toContain(`Log in as ${OWNER}`);
    expect(await violations(page)).toEqual([]);
  });

  it('When a user session page is opened by its owner, then axe finds no violations (editor, lifetime and delete offered)', async () => {
    const page = await newPage(true);
    await openSession(page, `${OWNER}/board`);
    await expect.poll(() => page.isVisible('#manage')).toBe(true);
    expect(await violations(page)).toEqual([]);
  });

  it("When the owner's page shows a conflict and the delete confirmation, then axe finds no violations", async () => {
    const page = await newPage(true);
    await openSession(page, `${OWNER}/board`);
    await page.fill('#args', '{"status": "stale edit"}');
    const other = await running.api('PUT', `/api/user/${OWNER}/session/board`, {
      json: { args: { status: 'theirs' } },
      headers: bearer(token),
    });
    expect(other.status).toBe(204);
    await expect.poll(() => page.textContent('#update-message')).toContain('Someone else has just updated');
    await page.click('#update');
    await expect.poll(() => page.isVisible('#conflict')).toBe(true);
    await page.click('#delete');
    await expect.poll(() => page.isVisible('#delete-confirm')).toBe(true);
    expect(await violations(page)).toEqual([]);
  });

  it('When a session URL leads nowhere, then the HTML 404 page has no violations', async () => {
    const page = await newPage();
    for (const path of ['/session/ada/never-made', '/session/bad:id']) {
      const response = await page.goto(`${running.baseUrl}${path}`);
      expect(response?.status()).toBe(404);
      await expect.poll(() => page.textContent('#who')).toBe('Not logged in');
      expect(await violations(page), path).toEqual([]);
    }
  });

  it('When /docs is opened, then the API reference has no violations', async () => {
    const page = await newPage();
    await page.goto(`${running.baseUrl}/docs`);
    await expect.poll(() => page.textContent('.info'), { timeout: 15_000 }).toContain('<img src="https://host/stream/dashboard">');
    await page.waitForSelector('.opblock');
    // heading-order: swagger-ui titles the contract with an <h1> and each tag's
    // group of operations with an <h3>, with no <h2> between; those elements
    // and their levels are swagger-ui's own rendering, which no option or
    // stylesheet of ours changes. Every other rule runs on this page.
    expect(await violations(page, ['heading-order'])).toEqual([]);
  });
});
