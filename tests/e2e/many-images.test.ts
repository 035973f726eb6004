import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { chromiumAvailable, editorArgs, launchChromium } from '../helpers/browser.js';
import { selfSignedCertificate, type SelfSigned } from '../helpers/tls.js';

const IMAGES = 20;
// The width follows an argument, so an update is visible as the image's naturalWidth.
const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="20"><text y="15">{{ n }}</text></svg>';

/**
 * A dashboard as people build it: many live images from one host, and the
 * page's own script after them. Served by the test (page.route), since the
 * service has no such page; every image and the script come from the service.
 */
function dashboard(count: number): string {
  const images = Array.from({ length: count }, (_, i) => `<img src="/stream/board-${i}" alt="board ${i}">`).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>dashboard</title></head><body>
<span id="who"></span>
${images}
<script type="module" src="/assets/app.js"></script>
</body></html>`;
}

async function openDashboard(page: Page, baseUrl: string): Promise<void> {
  await page.route(`${baseUrl}/dashboard`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: dashboard(IMAGES) }),
  );
  // The page's load event waits for every image; live images never finish loading.
  await page.goto(`${baseUrl}/dashboard`, { waitUntil: 'commit' });
}

/** Every image painted and the page's script ran (it fills in #who). */
function allShownAndScriptRan(page: Page) {
  return page.waitForFunction(
    (count) => {
      const images = [...document.images];
      return (
        images.length === count &&
        images.every((image) => image.naturalWidth > 0) &&
        document.querySelector('#who')?.textContent === 'Not logged in'
      );
    },
    IMAGES,
    { timeout: 15_000 },
  );
}

async function createBoards(running: RunningApp): Promise<void> {
  for (let i = 0; i < IMAGES; i += 1) {
    const created = await running.app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { session_id: `board-${i}`, template: TEMPLATE, args: { n: i, width: 60 } },
    });
    expect(created.statusCode).toBe(201);
  }
}

describe.runIf(chromiumAvailable())('20 live images on one page in headless Chromium (SPEC section 4)', () => {
  let certificate: SelfSigned;
  let running: RunningApp;
  let browser: Browser;

  beforeAll(async () => {
    certificate = selfSignedCertificate();
    running = await startApp({ config: { TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile } });
    await createBoards(running);
    browser = await launchChromium(['--ignore-certificate-errors']);
  });
  afterAll(async () => {
    await browser?.close();
    await running?.close();
    certificate?.remove();
  });

  it('When the service serves HTTPS, then a page with 20 live images shows all of them and its own script still loads and runs, over HTTP/2', async () => {
    const page = await browser.newPage();
    try {
      await openDashboard(page, running.baseUrl);
      await allShownAndScriptRan(page);
      // Live images never finish loading, so the finished script is the resource whose protocol shows.
      const protocol = await page.evaluate(() => {
        const script = performance.getEntriesByType('resource').find((entry) => entry.name.endsWith('/assets/app.js'));
        return script instanceof PerformanceResourceTiming ? script.nextHopProtocol : 'no entry for /assets/app.js';
      });
      expect(protocol).toBe('h2');
    } finally {
      await page.close();
    }
  });

  it('When the web UI is served over HTTP/2, then a session page shows the stream itself and its editor follows other writers', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${running.baseUrl}/session/board-3`);
      await page.waitForFunction(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth === 60);
      expect(await page.getAttribute('#live', 'src')).toBe('/stream/board-3');
      await expect.poll(() => editorArgs(page)).toEqual({ n: 3, width: 60 });
      const updated = await running.app.inject({ method: 'PUT', url: '/api/session/board-3', payload: { args: { n: 'x', width: 70 } } });
      expect(updated.statusCode).toBe(200);
      await expect.poll(() => editorArgs(page)).toEqual({ n: 'x', width: 70 });
      await page.waitForFunction(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth === 70);
    } finally {
      await page.close();
    }
  });

  it("When our session page also shows 12 other sessions' live images over HTTP/2, then all 12 follow their updates and the page's editor still saves", async () => {
    const LIVE = 12;
    for (let i = 0; i < LIVE; i += 1) {
      const created = await running.app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { session_id: `twelve-${i}`, template: TEMPLATE, args: { n: i, width: 50 } },
      });
      expect(created.statusCode).toBe(201);
    }
    const edited = await running.app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { session_id: 'twelve-editor', template: TEMPLATE, args: { n: 'start', width: 40 } },
    });
    expect(edited.statusCode).toBe(201);
    const page = await browser.newPage();
    try {
      // The page's own live image never finishes loading, so its load event is not waited for.
      await page.goto(`${running.baseUrl}/session/twelve-editor`, { waitUntil: 'domcontentloaded' });
      // Twelve more live images on the same page, each holding its stream open beside the page's own.
      await page.evaluate((count) => {
        const board = document.createElement('div');
        board.id = 'twelve';
        for (let i = 0; i < count; i += 1) {
          const image = document.createElement('img');
          image.src = `/stream/twelve-${i}`;
          image.alt = `twelve ${i}`;
          board.append(image);
        }
        document.body.append(board);
      }, LIVE);
      const widths = () =>
        page.evaluate(() => [...document.querySelectorAll<HTMLImageElement>('#twelve img')].map((image) => image.naturalWidth));
      await expect.poll(widths, { timeout: 15_000 }).toEqual(Array.from({ length: LIVE }, () => 50));
      await expect.poll(() => editorArgs(page), { timeout: 15_000 }).toEqual({ n: 'start', width: 40 });
      await expect
        .poll(() => page.evaluate(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth), { timeout: 15_000 })
        .toBe(40);
      // The page itself came over HTTP/2, so its streams share one connection rather than six.
      expect(
        await page.evaluate(
          () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined)?.nextHopProtocol,
        ),
      ).toBe('h2');

      // Every one of the 12 gets a width of its own, so each image's change is its own frame.
      for (let i = 0; i < LIVE; i += 1) {
        const updated = await running.app.inject({
          method: 'PUT',
          url: `/api/session/twelve-${i}`,
          payload: { args: { n: `new ${i}`, width: 70 + i } },
        });
        expect(updated.statusCode).toBe(200);
      }
      await expect.poll(widths, { timeout: 15_000 }).toEqual(Array.from({ length: LIVE }, (_, i) => 70 + i));

      // The editor, with the 12 streams still open: edit the args, click Update, and the session changes.
      await expect.poll(() => page.isEnabled('#update')).toBe(true);
      await page.fill('#args', '{"n": "edited", "width": 130}');
      await page.click('#update');
      await expect.poll(() => page.textContent('#update-message'), { timeout: 15_000 }).toContain('Updated');
      const stored = await running.app.inject({ method: 'GET', url: '/api/session/twelve-editor' });
      expect(stored.json()).toMatchObject({ args: { n: 'edited', width: 130 } });
      await expect
        .poll(() => page.evaluate(() => (document.querySelector('#live') as HTMLImageElement).naturalWidth), { timeout: 15_000 })
        .toBe(130);
      // And the 12 are still live after it.
      const again = await running.app.inject({ method: 'PUT', url: '/api/session/twelve-0', payload: { args: { n: 'again', width: 99 } } });
      expect(again.statusCode).toBe(200);
      await expect.poll(async () => (await widths())[0], { timeout: 15_000 }).toBe(99);
    } finally {
      await page.close();
    }
  });

  it('When the last of 20 live images is updated, then the page shows its new frame', async () => {
    const page = await browser.newPage();
    try {
      await openDashboard(page, running.baseUrl);
      await allShownAndScriptRan(page);
      const updated = await running.app.inject({
        method: 'PUT',
        url: `/api/session/board-${IMAGES - 1}`,
        payload: { args: { n: 'new', width: 90 } },
      });
      expect(updated.statusCode).toBe(200);
      await page.waitForFunction((last) => document.images[last]?.naturalWidth === 90, IMAGES - 1, { timeout: 15_000 });
    } finally {
      await page.close();
    }
  });
});
