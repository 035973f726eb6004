import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { OtherOrigin } from '../helpers/other-origin.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';

/** A tiny SVG whose width is the argument, so a page can tell which frame its <img> shows. */
const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg" width="{{ w }}" height="10"><rect width="{{ w }}" height="10"/></svg>';
// Far beyond any wait here: a keep-alive repeat would push a blank stream past the threshold by itself.
const NO_REPEATS = 'keep_alive=3600000';

describe.runIf(chromiumAvailable())('live images embedded on another origin, in headless Chromium', () => {
  let running: RunningApp;
  let other: OtherOrigin;
  let browser: Browser;
  let page: Page;
  let seq = 0;
  const newId = () => `xo-${Date.now().toString(36)}-${++seq}`;

  async function create(width: number): Promise<string> {
    const id = newId();
    const res = await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { w: width } } });
    expect(res.status).toBe(201);
    return id;
  }
  const naturalWidth = (selector: string) => page.$eval(selector, (img) => (img as HTMLImageElement).naturalWidth);

  beforeAll(async () => {
    running = await startApp();
    other = new OtherOrigin();
    await other.start();
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await other?.close();
    await running?.close();
  });

  it('When a page on another origin embeds the stream of a small SVG, then the first frame shows and then each update', async () => {
    const id = await create(17);
    other.html = `<!doctype html><title>embed</title><img id="live" src="${running.baseUrl}/stream/${id}?${NO_REPEATS}">`;
    await page.goto(other.url);
    expect(new URL(page.url()).origin).not.toBe(running.baseUrl);
    // Without the padded first write Chromium holds the image back for good: it stays 0 wide.
    await page.waitForFunction(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth > 0, undefined, {
      timeout: 10_000,
    });
    expect(await naturalWidth('#live')).toBe(17);
    for (const width of [23, 31]) {
      expect((await running.api('PUT', `/api/session/${id}`, { json: { args: { w: width } } })).status).toBe(200);
      await expect.poll(() => naturalWidth('#live')).toBe(width);
    }
  });

  it('When a page on another origin reads a stream and a frame in CORS mode, then the image loads and fetch reads the frame', async () => {
    const id = await create(19);
    // crossorigin makes the browser require Access-Control-Allow-Origin, as canvas and WebGL need.
    other.html = `<!doctype html><title>cors</title><img id="cors" crossorigin="anonymous" src="${running.baseUrl}/stream/${id}?${NO_REPEATS}">`;
    await page.goto(other.url);
    await page.waitForFunction(() => (document.querySelector('#cors') as HTMLImageElement).naturalWidth > 0, undefined, {
      timeout: 10_000,
    });
    expect(await naturalWidth('#cors')).toBe(19);
    const fetched = await page.evaluate(async (url) => {
      try {
        const res = await fetch(url);
        return { status: res.status, body: await res.text() };
      } catch (err) {
        return { status: 0, body: String(err) };
      }
    }, `${running.baseUrl}/frame/${id}`);
    expect(fetched).toEqual({ status: 200, body: TEMPLATE.replaceAll('{{ w }}', '19') });
  });

  it('When a page on another origin listens to the data feed with EventSource, then it gets the update at once and one per write', async () => {
    const id = await create(5);
    other.html = '<!doctype html><title>feed</title>';
    await page.goto(other.url);
    await page.evaluate((url) => {
      const received: unknown[] = [];
      Object.assign(window, { received });
      new EventSource(url).addEventListener('update', (event) => received.push(JSON.parse((event as MessageEvent<string>).data)));
    }, `${running.baseUrl}/events/${id}`);
    const received = () => page.evaluate(() => (window as unknown as { received: Array<{ args: unknown }> }).received.map((u) => u.args));
    await expect.poll(received).toEqual([{ w: 5 }]);
    expect((await running.api('PUT', `/api/session/${id}`, { json: { args: { w: 6 } } })).status).toBe(200);
    await expect.poll(received).toEqual([{ w: 5 }, { w: 6 }]);
  });
});
