import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';

describe.runIf(chromiumAvailable())('web UI in headless Chromium', () => {
  let running: RunningApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    running = await startApp();
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  const message = (id: string) => page.locator(`#${id}`);
  async function logIn(userId: string, password = 'browser password') {
    await page.fill('#login-form input[name=user_id]', userId);
    await page.fill('#login-form input[name=password]', password);
    await page.click('#login-form button[type=submit]');
    await expect.poll(() => page.textContent('#who')).toBe(`Logged in as ${userId}`);
  }
  async function createSession(sessionId: string, args: string, kind: 'user' | 'public' = 'user') {
    await page.check(`#create-form input[name=kind][value=${kind}]`);
    await page.fill('#create-form input[name=session_id]', sessionId);
    await page.fill('#create-form textarea[name=args]', args);
    await page.click('#create-form button[type=submit]');
  }

  it('When a person logs in, creates a session and updates it, then the live image and their list follow', async () => {
    await page.goto(running.baseUrl + '/');
    expect(await page.textContent('#who')).toBe('Not logged in');
    await logIn('ada');
    expect(await page.evaluate(() => localStorage.getItem('realtime-svg.user'))).toBe('ada');

    await createSession('board', '{"status": ');
    await expect.poll(() => message('create-message').textContent()).toContain('not valid JSON');

    await createSession('board', '{"status": "first"}');
    await page.waitForURL(`${running.baseUrl}/session/ada/board`);
    await page.waitForFunction(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth > 0);
    await expect.poll(async () => JSON.parse((await page.inputValue('#args')) || 'null')).toEqual({ status: 'first' });
    expect(await page.isDisabled('#update')).toBe(false);

    await page.fill('#args', '{"status": "second"}');
    await page.click('#update');
    await expect.poll(() => message('update-message').textContent()).toContain('Updated');
    expect(await (await fetch(`${running.baseUrl}/frame/ada/board`)).text()).toContain('>second<');

    await page.goto(running.baseUrl + '/');
    await expect.poll(() => page.locator('#sessions tr').count()).toBe(1);
    expect(await page.textContent('#sessions tr td:first-child')).toBe('board');
    expect(await page.textContent('#sessions tr td:last-child')).toMatch(/^(59 min|1 h 0 min)/);
  });

  it('When the id is taken, then the person is told so', async () => {
    await page.goto(running.baseUrl + '/');
    await createSession('board', '{}');
    await expect.poll(() => message('create-message').textContent()).toContain('already exists');
  });

  it('When someone else views the session, then updating is disabled with the reason', async () => {
    await page.click('#logout');
    await page.goto(`${running.baseUrl}/session/ada/board`);
    await expect.poll(() => page.textContent('#update-reason')).toContain('Log in as ada');
    expect(await page.isDisabled('#update')).toBe(true);
    await logIn('grace');
    await expect.poll(() => page.textContent('#update-reason')).toContain('Only ada can update');
    expect(await page.isDisabled('#update')).toBe(true);
  });

  it('When the server says 403 or 401, then the person sees why, and a 401 logs them out', async () => {
    // A token for grace while the page believes it is ada's: the server decides.
    await page.evaluate(() => localStorage.setItem('realtime-svg.user', 'ada'));
    await page.goto(`${running.baseUrl}/session/ada/board`);
    await expect.poll(() => page.isEnabled('#update')).toBe(true);
    await expect.poll(async () => (await page.inputValue('#args')).length).toBeGreaterThan(0);
    await page.click('#update');
    await expect.poll(() => message('update-message').textContent()).toContain('Only the owner');

    await page.evaluate(() => localStorage.setItem('realtime-svg.token', 'garbage.token.value'));
    await page.click('#update');
    await expect.poll(() => message('update-message').textContent()).toContain('log in again');
    expect(await page.textContent('#who')).toBe('Not logged in');
  });

  it('When the network fails, then the person is told the service cannot be reached', async () => {
    await page.goto(running.baseUrl + '/');
    await page.route('**/api/**', (route) => route.abort('connectionrefused'));
    await createSession('offline', '{}', 'public');
    await expect.poll(() => message('create-message').textContent()).toContain('Cannot reach the service');
    await page.unroute('**/api/**');
  });

  it('When a public session is created from the page, then anyone may update it', async () => {
    await page.goto(running.baseUrl + '/');
    await createSession('open-board', '{"status": "x"}', 'public');
    await page.waitForURL(`${running.baseUrl}/session/open-board`);
    expect(await page.isDisabled('#update')).toBe(false);
    await page.fill('#args', '{"status": "y"}');
    await page.click('#update');
    await expect.poll(() => message('update-message').textContent()).toContain('Updated');
  });
});
