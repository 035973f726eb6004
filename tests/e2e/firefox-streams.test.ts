import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { OtherOrigin } from '../helpers/other-origin.js';
import { Firefox, firefoxAvailable, type FirefoxPage } from '../helpers/firefox.js';

/**
 * SPEC §4: Firefox shows a part once the next boundary line has arrived, and a
 * write that leaves a partial next part behind makes it stop painting the image
 * altogether (0×0). These tests watch a live image in Debian's Firefox, driven
 * over WebDriver BiDi, on our own origin and on another one.
 */
const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><text x="4" y="24">{{ v }}</text></svg>';
// Far beyond any wait here: a keep-alive repeat would finish a pending part by itself and hide a framing fault.
const NO_REPEATS = 'keep_alive=3600000';
// Both images sit at fixed places on a white ground, so their pixels can be compared.
const IMAGE_STYLE = 'position:fixed;top:0;margin:0;padding:0;border:0;background:#fff;z-index:2147483647;display:block';
const LIVE_LEFT = 0;
const REFERENCE_LEFT = 200;
const POLL = { timeout: 15_000, interval: 100 };

interface ImageState {
  naturalWidth: number;
  naturalHeight: number;
  box: { x: number; y: number; width: number; height: number };
}

function imageState(page: FirefoxPage, elementId: string): Promise<ImageState | null> {
  return page.evaluate<ImageState | null>(`(() => {
    const img = document.getElementById(${JSON.stringify(elementId)});
    if (!(img instanceof HTMLImageElement)) return null;
    const r = img.getBoundingClientRect();
    return { naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, box: { x: r.x, y: r.y, width: r.width, height: r.height } };
  })()`);
}

/** The pixels Firefox painted for an image (empty when it is not laid out: a 0×0 image has none). */
async function pixels(page: FirefoxPage, elementId: string): Promise<string> {
  const state = await imageState(page, elementId);
  if (!state || state.box.width === 0 || state.box.height === 0) return '';
  return page.screenshot(state.box);
}

/** Puts an <img> at a fixed place on the page; `src` may be relative to the page. */
function addImage(page: FirefoxPage, elementId: string, src: string, left: number): Promise<boolean> {
  return page.evaluate<boolean>(`(() => {
    document.getElementById(${JSON.stringify(elementId)})?.remove();
    const img = document.createElement('img');
    img.id = ${JSON.stringify(elementId)};
    img.alt = '';
    img.style.cssText = ${JSON.stringify(`${IMAGE_STYLE};left:${left}px`)};
    img.src = ${JSON.stringify(src)};
    document.body.append(img);
    return true;
  })()`);
}

describe.runIf(firefoxAvailable())('live images in headless Firefox (WebDriver BiDi)', () => {
  let running: RunningApp;
  let other: OtherOrigin;
  let firefox: Firefox;
  let page: FirefoxPage;
  let seq = 0;
  const newId = () => `ff-${Date.now().toString(36)}-${++seq}`;

  async function create(v: string): Promise<string> {
    const id = newId();
    const res = await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { v } } });
    expect(res.status).toBe(201);
    return id;
  }

  /**
   * Shows the service's current frame as a data: image beside the live one (the
   * same SVG drawn the same way), so "the live image shows frame X" is a pixel
   * comparison rather than a guess.
   */
  async function showReference(id: string): Promise<void> {
    const frame = await fetch(`${running.baseUrl}/frame/${id}`);
    expect(frame.status).toBe(200);
    const svg = await frame.text();
    await addImage(page, 'reference', `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, REFERENCE_LEFT);
    await expect.poll(async () => (await imageState(page, 'reference'))?.naturalWidth, POLL).toBe(120);
  }

  /** Waits until the live image paints exactly what the reference paints, at 120×40. */
  async function expectLiveShowsReference(): Promise<void> {
    const reference = await pixels(page, 'reference');
    expect(reference).not.toBe('');
    await expect.poll(async () => (await pixels(page, 'live')) === reference, POLL).toBe(true);
    const live = await imageState(page, 'live');
    expect(live && { width: live.naturalWidth, height: live.naturalHeight }).toEqual({ width: 120, height: 40 });
  }

  async function checkFirstFrameAndUpdates(id: string): Promise<void> {
    // The first frame paints (a broken framing leaves the image 0×0).
    await expect.poll(async () => (await imageState(page, 'live'))?.naturalWidth, POLL).toBe(120);
    await showReference(id);
    await expectLiveShowsReference();
    const before = await pixels(page, 'live');
    for (const v of ['two', 'three & more']) {
      expect((await running.api('PUT', `/api/session/${id}`, { json: { args: { v } } })).status).toBe(200);
      await showReference(id);
      await expectLiveShowsReference();
    }
    // The text did change on screen, so the comparison above compared something.
    expect(await pixels(page, 'live')).not.toBe(before);
  }

  beforeAll(async () => {
    running = await startApp();
    other = new OtherOrigin();
    await other.start();
    firefox = await Firefox.launch();
    page = await firefox.newPage();
  }, 90_000);
  afterAll(async () => {
    await firefox?.close();
    await other?.close();
    await running?.close();
  }, 30_000);

  it('When a page on our own origin embeds a stream, then Firefox paints the first frame and then each update', async () => {
    const id = await create('one');
    await page.navigate(`${running.baseUrl}/session/${id}`);
    expect(await page.evaluate<string>('location.origin')).toBe(running.baseUrl);
    await addImage(page, 'live', `/stream/${id}?${NO_REPEATS}`, LIVE_LEFT);
    await checkFirstFrameAndUpdates(id);
  }, 90_000);

  it('When a page on another origin embeds a stream, then Firefox paints the first frame and then each update', async () => {
    const id = await create('one');
    other.html = `<!doctype html><title>embed</title><body style="margin:0;background:#fff">
<img id="live" alt="" style="${IMAGE_STYLE};left:${LIVE_LEFT}px" src="${running.baseUrl}/stream/${id}?${NO_REPEATS}">`;
    await page.navigate(other.url);
    expect(await page.evaluate<string>('location.origin')).not.toBe(running.baseUrl);
    await checkFirstFrameAndUpdates(id);
  }, 90_000);
});
