import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bearer, PASSWORD, tokenFor } from '../helpers/auth.js';
import { chromiumAvailable, editorArgs, launchChromium } from '../helpers/browser.js';
import { bodyOf, expectResponse } from '../helpers/contract.js';

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
    await expect.poll(() => editorArgs(page)).toEqual({ status: 'first' });
    await expect.poll(() => page.isEnabled('#update')).toBe(true);

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
    // The page's script reads the session and fills the editor after load: wait for it, or the fill below races it.
    await expect.poll(() => page.isEnabled('#update')).toBe(true);
    await expect.poll(() => editorArgs(page)).toEqual({ status: 'x' });
    await page.fill('#args', '{"status": "y"}');
    await page.click('#update');
    await expect.poll(() => message('update-message').textContent()).toContain('Updated');
  });
});

/** Relative luminance contrast of two CSS rgb() colours (WCAG 2). */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r = 0, g = 0, bl = 0] = (css.match(/[\d.]+/g) ?? []).map(Number).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="40"><text x="8" y="26">{{ status }}</text></svg>';

describe.runIf(chromiumAvailable())('web UI: what users of similar tools expect (SPEC section 7)', () => {
  let running: RunningApp;
  let browser: Browser;
  let token: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    running = await startApp();
    browser = await launchChromium();
    token = await tokenFor(running.api, 'lin');
  });
  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  /** A fresh browser profile; logged in as `lin` when asked (the token the UI keeps in localStorage). */
  async function newPage(options: { loggedIn?: boolean; viewport?: { width: number; height: number } } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1000, height: 900 } });
    contexts.push(context);
    if (options.loggedIn) {
      await context.addInitScript(
        (login) => {
          localStorage.setItem('realtime-svg.token', login.token);
          localStorage.setItem('realtime-svg.user', login.userId);
        },
        { token, userId: 'lin' },
      );
    }
    return context.newPage();
  }

  async function createUserSession(sessionId: string, args: Record<string, unknown> = { status: 'one' }): Promise<void> {
    const res = await running.api('POST', '/api/user/lin/session', {
      json: { session_id: sessionId, template: TEMPLATE, args },
      headers: bearer(token),
    });
    expect(res.status).toBe(201);
  }

  async function openSession(page: Page, path: string): Promise<void> {
    await page.goto(`${running.baseUrl}/session/${path}`);
    // The editor is filled by the page's script once it has read the session.
    await expect.poll(async () => (await page.inputValue('#args')).length).toBeGreaterThan(0);
  }

  it('When the home page opens, then a sentence says what the product is', async () => {
    const page = await newPage();
    await page.goto(`${running.baseUrl}/`);
    const intro = await page.textContent('.intro');
    expect(intro).toContain('live image');
    expect(intro).toContain('<img src="…/stream/…">');
  });

  it('When a session page opens, then the embed box offers HTML, Markdown and the plain URL, all absolute', async () => {
    await createUserSession('embed-me');
    const page = await newPage();
    await openSession(page, 'lin/embed-me');
    const url = `${running.baseUrl}/stream/lin/embed-me`;
    expect(await page.inputValue('#embed-url')).toBe(url);
    expect(await page.inputValue('#embed-html')).toBe(`<img src="${url}" alt="embed-me">`);
    expect(await page.inputValue('#embed-markdown')).toBe(`![embed-me](${url})`);
  });

  it('When a copy button is clicked, then the absolute stream URL is on the clipboard and the page says so', async () => {
    const page = await newPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: running.baseUrl });
    await openSession(page, 'lin/embed-me');
    await page.click('button[data-copy="embed-url"]');
    await expect.poll(() => page.textContent('#embed-message')).toContain('Copied the URL');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${running.baseUrl}/stream/lin/embed-me`);
    await page.click('button[data-copy="embed-markdown"]');
    await expect
      .poll(() => page.evaluate(() => navigator.clipboard.readText()))
      .toBe(`![embed-me](${running.baseUrl}/stream/lin/embed-me)`);
  });

  it('When the owner edits the template and saves, then the session renders with the new template', async () => {
    await createUserSession('retemplate');
    const page = await newPage({ loggedIn: true });
    await openSession(page, 'lin/retemplate');
    expect(await page.isEditable('#template')).toBe(true);
    await page.fill(
      '#template',
      '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="40"><text x="8" y="26">now: {{ status | upcase }}</text></svg>',
    );
    await page.click('#update');
    await expect.poll(() => page.textContent('#update-message')).toContain('Updated');
    expect(await (await fetch(`${running.baseUrl}/frame/lin/retemplate`)).text()).toContain('>now: ONE<');
  });

  it('When a public session is open, then its template is shown read-only with the reason, and its args stay editable', async () => {
    expect(
      (await running.api('POST', '/api/session', { json: { session_id: 'open-tpl', template: TEMPLATE, args: { status: 'x' } } })).status,
    ).toBe(201);
    const page = await newPage();
    await openSession(page, 'open-tpl');
    expect(await page.isEditable('#template')).toBe(false);
    expect(await page.textContent('#template-note')).toContain('template is fixed');
    expect(await page.isEditable('#args')).toBe(true);
    expect(await page.isHidden('#manage')).toBe(true);
  });

  it('When the owner extends the lifetime, then the session lives that much longer and the page shows the new expiry', async () => {
    await createUserSession('extend-me');
    const before = bodyOf(await running.api('GET', '/api/user/lin/session/extend-me'), 'getUserSession', 200).ttl;
    expect(before).toBeLessThanOrEqual(3600);
    const page = await newPage({ loggedIn: true });
    await openSession(page, 'lin/extend-me');
    await page.fill('#args', '{"status": "unsaved edit"}');
    await page.selectOption('#extend-seconds', '604800');
    await page.waitForSelector('[data-page=session][data-feed=live]');
    await page.click('#extend');
    await expect.poll(() => page.textContent('#manage-message')).toContain('Extended');
    // Its own write, announced by the feed too, is not taken for someone else's.
    expect(await page.textContent('#update-message')).not.toContain('Someone else');
    const after = await running.api('GET', '/api/user/lin/session/extend-me');
    expectResponse(after, 'getUserSession', 200);
    expect(after.body.ttl).toBeGreaterThan(600_000);
    // Extending sends the stored args again, never the editor's unsaved text.
    expect(after.body.args).toEqual({ status: 'one' });
    expect(await page.textContent('#expires')).toMatch(/Expires in (6 d 23 h|7 d 0 h)/);
    // The page's own write did not make its editor stale: saving now is not a conflict.
    await page.click('#update');
    await expect.poll(() => page.textContent('#update-message')).toContain('Updated');
  });

  it('When the owner deletes the session, then after confirming it is gone and the home page says so', async () => {
    await createUserSession('delete-me');
    const page = await newPage({ loggedIn: true });
    await openSession(page, 'lin/delete-me');
    await page.click('#delete');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('delete-no');
    await page.click('#delete-yes');
    await page.waitForURL(`${running.baseUrl}/?deleted=lin%2Fdelete-me`);
    await expect.poll(() => page.textContent('#page-message')).toBe('Deleted session lin/delete-me.');
    expect((await running.api('GET', '/api/user/lin/session/delete-me')).status).toBe(404);
  });

  it('When someone who is not the owner opens a user session, then delete and extend are not offered', async () => {
    await createUserSession('not-yours');
    const page = await newPage();
    await openSession(page, 'lin/not-yours');
    expect(await page.isHidden('#manage')).toBe(true);
    expect(await page.isEditable('#template')).toBe(false);
  });

  it('When status and error messages appear, then they are in aria-live regions', async () => {
    const page = await newPage();
    await page.goto(`${running.baseUrl}/`);
    for (const id of ['login-message', 'create-message', 'page-message', 'sessions-message']) {
      expect(await page.getAttribute(`#${id}`, 'aria-live'), id).toBe('polite');
    }
    await page.check('#create-form input[name=kind][value=public]');
    await page.fill('#create-form input[name=session_id]', 'aria');
    await page.fill('#create-form textarea[name=args]', '{"status": ');
    await page.click('#create-form button[type=submit]');
    await expect.poll(() => page.textContent('#create-message')).toContain('not valid JSON');
    await openSession(page, 'lin/not-yours');
    for (const id of ['update-message', 'manage-message', 'embed-message', 'login-message']) {
      expect(await page.getAttribute(`#${id}`, 'aria-live'), id).toBe('polite');
    }
  });

  it('When a person logs in on the home page, then focus moves to their sessions; on a session page they own, to the editor', async () => {
    const page = await newPage();
    await page.goto(`${running.baseUrl}/`);
    await page.fill('#login-form input[name=user_id]', 'lin');
    await page.fill('#login-form input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('sessions-heading');

    await page.click('#logout');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('user_id');
    await openSession(page, 'lin/not-yours');
    await page.fill('#login-form input[name=user_id]', 'lin');
    await page.fill('#login-form input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('args');
  });

  it('When the window is 375 px wide and a long user id is logged in, then the header holds without overflow and stays readable', async () => {
    const page = await newPage({ viewport: { width: 375, height: 800 } });
    const longId = 'a-very-long-user-id-that-goes-on-and-on-for-64-characters-xxxxxx';
    const longToken = await tokenFor(running.api, longId);
    await page.addInitScript(
      (login) => {
        localStorage.setItem('realtime-svg.token', login.token);
        localStorage.setItem('realtime-svg.user', login.userId);
      },
      { token: longToken, userId: longId },
    );
    for (const path of ['/', '/session/lin/not-yours']) {
      await page.goto(`${running.baseUrl}${path}`);
      await expect.poll(() => page.textContent('#who')).toBe(`Logged in as ${longId}`);
      const sizes = await page.evaluate(() => {
        const header = document.querySelector('header.site') as HTMLElement;
        return { header: [header.scrollWidth, header.clientWidth], page: [document.documentElement.scrollWidth, window.innerWidth] };
      });
      expect(sizes.header[0], path).toBeLessThanOrEqual(sizes.header[1] ?? 0);
      expect(sizes.page[0], path).toBeLessThanOrEqual(sizes.page[1] ?? 0);
      // Both the text and the button must sit inside the header's own (dark) box.
      const boxes = await page.evaluate(() =>
        ['header.site', '#who', '#logout'].map((selector) => {
          const r = (document.querySelector(selector) as HTMLElement).getBoundingClientRect();
          return { top: r.top, bottom: r.bottom, left: r.left, right: r.right };
        }),
      );
      const [header, who, logout] = boxes as [(typeof boxes)[0], (typeof boxes)[0], (typeof boxes)[0]];
      for (const inner of [who, logout]) {
        expect(inner.bottom).toBeLessThanOrEqual(header.bottom);
        expect(inner.right).toBeLessThanOrEqual(header.right);
      }
      const colours = await page.evaluate(() => ({
        text: getComputedStyle(document.querySelector('#who') as HTMLElement).color,
        background: getComputedStyle(document.querySelector('header.site') as HTMLElement).backgroundColor,
      }));
      expect(contrast(colours.text, colours.background)).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('When /favicon.ico is asked for, then it is an icon, and pages name their icons', async () => {
    const page = await newPage();
    const response = await page.goto(`${running.baseUrl}/favicon.ico`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toBe('image/x-icon');
    await page.goto(`${running.baseUrl}/`);
    const icons = await page.$$eval('link[rel=icon]', (links) => links.map((link) => (link as HTMLLinkElement).href));
    expect(icons).toEqual([`${running.baseUrl}/favicon.svg`, `${running.baseUrl}/favicon.ico`]);
    for (const icon of icons) expect((await page.request.get(icon)).status(), icon).toBe(200);
  });

  it.each([
    ['an id with a colon', '/session/bad:id'],
    ['a 65-character id', `/session/${'x'.repeat(65)}`],
    ['a 100-character user id', `/session/${'u'.repeat(100)}/board`],
    ['too many segments', '/session/a/b/c'],
    ['no id at all', '/session'],
    ['an empty id', '/session/'],
    ['bytes that are not percent-encoding', '/session/%zz'],
    ['a session that does not exist', '/session/lin/never-made'],
  ])('When a session URL has %s, then the browser gets an HTML 404 page, never JSON', async (_what, path) => {
    const page = await newPage();
    const response = await page.goto(`${running.baseUrl}${path}`);
    expect(response?.status()).toBe(404);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.textContent('h1')).toBe('No such session');
    expect(await page.textContent('header.site')).toContain('realtime-svg');
  });

  it("When the page loads, then the UI's script and its read of the session come before the live image's stream", async () => {
    await createUserSession('ordered');
    const page = await newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(new URL(request.url()).pathname));
    await openSession(page, 'lin/ordered');
    await page.waitForFunction(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth > 0);
    const script = requests.indexOf('/assets/app.js');
    const read = requests.indexOf('/api/user/lin/session/ordered');
    const live = requests.findIndex((path) => path === '/stream/lin/ordered' || path === '/frame/lin/ordered');
    expect(script).toBeGreaterThanOrEqual(0);
    expect(read).toBeGreaterThan(script);
    expect(live).toBeGreaterThan(read);
  });

  it('When five other tabs already hold live images over HTTP/1.1, then a session page still gets its script, its editor and its image', async () => {
    await createUserSession('crowded');
    const context = await browser.newContext();
    contexts.push(context);
    // Five tabs of this origin, each holding one of Chromium's six HTTP/1.1 connections to it with a live image.
    for (let i = 0; i < 5; i += 1) {
      const tab = await context.newPage();
      await tab.goto(`${running.baseUrl}/session/lin/never-made`);
      await tab.evaluate(() => {
        const image = document.createElement('img');
        image.src = '/stream/lin/crowded';
        document.body.append(image);
      });
      await tab.waitForFunction(() => [...document.images].some((image) => image.naturalWidth > 0));
    }
    const page = await context.newPage();
    await page.goto(`${running.baseUrl}/session/lin/crowded`, { waitUntil: 'commit' });
    await expect.poll(() => editorArgs(page), { timeout: 15_000 }).toEqual({ status: 'one' });
    await page.waitForFunction(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth > 0, undefined, {
      timeout: 15_000,
    });
  });

  it("When another page updates the session, then this page's editor and image follow through the data feed", async () => {
    await createUserSession('two-tabs', { status: 'one' });
    const writer = await newPage({ loggedIn: true });
    const reader = await newPage({ loggedIn: true });
    await openSession(writer, 'lin/two-tabs');
    await openSession(reader, 'lin/two-tabs');
    await reader.waitForFunction(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth === 240);

    await writer.fill('#args', '{"status": "two"}');
    await writer.click('#update');
    await expect.poll(() => writer.textContent('#update-message')).toContain('Updated');
    await expect.poll(() => editorArgs(reader)).toEqual({ status: 'two' });
    await expect.poll(() => reader.textContent('#update-message')).toContain('Updated elsewhere');
    // The reader's editor now writes over the newest version: no conflict.
    await reader.fill('#args', '{"status": "three"}');
    await reader.click('#update');
    await expect.poll(() => reader.textContent('#update-message')).toContain('Updated');
    await expect.poll(() => editorArgs(writer)).toEqual({ status: 'three' });
  });

  it('When this page has unsaved edits and someone else saves first, then Update explains the 412 and offers to load their version instead of overwriting', async () => {
    await createUserSession('stale', { status: 'one' });
    const page = await newPage({ loggedIn: true });
    await openSession(page, 'lin/stale');
    await page.fill('#args', '{"status": "mine"}');
    const other = await running.api('PUT', '/api/user/lin/session/stale', { json: { args: { status: 'theirs' } }, headers: bearer(token) });
    expect(other.status).toBe(204);
    await expect.poll(() => page.textContent('#update-message')).toContain('Someone else has just updated');
    // The edits are kept while the newer version is announced.
    expect(await editorArgs(page)).toEqual({ status: 'mine' });

    await page.click('#update');
    await expect.poll(() => page.isVisible('#conflict')).toBe(true);
    expect(await page.textContent('#update-message')).toContain('nothing was saved');
    expect(await page.textContent('#conflict-text')).toContain('nothing of theirs was overwritten');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('conflict-reload');
    expect(bodyOf(await running.api('GET', '/api/user/lin/session/stale'), 'getUserSession', 200).args).toEqual({ status: 'theirs' });

    await page.click('#conflict-reload');
    await expect.poll(() => editorArgs(page)).toEqual({ status: 'theirs' });
    expect(await page.isHidden('#conflict')).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('args');
  });

  it('When the person chooses to save their edits over the newer version, then theirs are replaced knowingly', async () => {
    await createUserSession('stale-overwrite', { status: 'one' });
    const page = await newPage({ loggedIn: true });
    await openSession(page, 'lin/stale-overwrite');
    await page.fill('#args', '{"status": "mine"}');
    expect(
      (await running.api('PUT', '/api/user/lin/session/stale-overwrite', { json: { args: { status: 'theirs' } }, headers: bearer(token) }))
        .status,
    ).toBe(204);
    await expect.poll(() => page.textContent('#update-message')).toContain('Someone else has just updated');
    await page.click('#update');
    await expect.poll(() => page.isVisible('#conflict')).toBe(true);
    await page.click('#conflict-overwrite');
    await expect.poll(() => page.textContent('#update-message')).toContain('Updated');
    expect(bodyOf(await running.api('GET', '/api/user/lin/session/stale-overwrite'), 'getUserSession', 200).args).toEqual({
      status: 'mine',
    });
  });

  it('When the session is deleted elsewhere, then the open page says so and stops offering to write', async () => {
    await createUserSession('vanishing');
    const page = await newPage({ loggedIn: true });
    await openSession(page, 'lin/vanishing');
    // Deleted once the page follows the session; a page that opens after the delete gets the 404 page instead.
    await page.waitForSelector('[data-page=session][data-feed=live]');
    expect(await page.isEnabled('#update')).toBe(true);
    expect((await running.api('DELETE', '/api/user/lin/session/vanishing', { headers: bearer(token) })).status).toBe(204);
    await expect.poll(() => page.textContent('#update-message')).toContain('was deleted');
    expect(await page.isDisabled('#update')).toBe(true);
    expect(await page.textContent('#update-reason')).toContain('ended');
  });

  it('When the template or the args are edited, then a preview rendered by the service shows before anything is saved', async () => {
    await createUserSession('previewed', { status: 'saved' });
    const page = await newPage({ loggedIn: true });
    await openSession(page, 'lin/previewed');
    const preview = '#edit-preview img';
    await page.waitForFunction((selector) => (document.querySelector(selector) as HTMLImageElement).naturalWidth === 240, preview);
    await page.fill('#template', '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text y="20">{{ status }}</text></svg>');
    await page.waitForFunction((selector) => (document.querySelector(selector) as HTMLImageElement).naturalWidth === 300, preview);
    expect(await page.getAttribute(preview, 'src')).toMatch(/^blob:/);
    // Nothing was stored by previewing.
    expect(await (await fetch(`${running.baseUrl}/frame/lin/previewed`)).text()).toContain('width="240"');

    await page.fill('#template', '<svg xmlns="http://www.w3.org/2000/svg"><text>{% if %}</text></svg>');
    await expect.poll(() => page.textContent('#edit-preview .message')).toMatch(/No preview: .*line/i);
    await page.fill('#args', '{"status": ');
    await expect.poll(() => page.textContent('#edit-preview .message')).toContain('not valid JSON');
  });

  it('When a new session is being written on the home page, then its preview follows the template and args', async () => {
    const page = await newPage();
    await page.goto(`${running.baseUrl}/`);
    const preview = '#create-preview img';
    await page.waitForFunction((selector) => (document.querySelector(selector) as HTMLImageElement).naturalWidth === 240, preview);
    await page.fill(
      '#create-form textarea[name=template]',
      '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="20"><text y="15">{{ status }}</text></svg>',
    );
    await page.waitForFunction((selector) => (document.querySelector(selector) as HTMLImageElement).naturalWidth === 120, preview);
  });

  it('When /docs is opened, then its introduction shows the literal <img> tag', async () => {
    const page = await newPage();
    await page.goto(`${running.baseUrl}/docs`);
    await page.waitForSelector('.info .description, .info .renderedMarkdown, .info');
    await expect.poll(() => page.textContent('.info'), { timeout: 15_000 }).toContain('<img src="https://host/stream/dashboard">');
  });
});
