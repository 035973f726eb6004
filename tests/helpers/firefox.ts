import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

/** Debian's firefox-esr (scripts/ensure-test-deps.sh installs it). */
export const FIREFOX = '/usr/bin/firefox-esr';

/**
 * True when Debian's Firefox is installed. Its absence fails the run, unless
 * SKIP_BROWSER=1 says to skip the browser tests (and the run says so).
 */
export function firefoxAvailable(): boolean {
  if (existsSync(FIREFOX)) return true;
  if (process.env.SKIP_BROWSER === '1') {
    console.warn(`SKIPPED: Firefox tests (${FIREFOX} is missing and SKIP_BROWSER=1)`);
    return false;
  }
  throw new Error(`${FIREFOX} is missing: install firefox-esr (make test does) or set SKIP_BROWSER=1 to skip the browser tests`);
}

/** A fresh profile: no updates, telemetry, first-run pages or background traffic. */
const PREFS: Record<string, string | number | boolean> = {
  'app.update.disabledForTesting': true,
  'app.update.auto': false,
  'app.normandy.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.startup.page': 0,
  'browser.aboutwelcome.enabled': false,
  'browser.newtabpage.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.search.update': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'extensions.update.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.proxy.type': 0,
  'remote.active-protocols': 1,
};

/** The parts of a BiDi answer this helper reads. */
interface BidiMessage {
  id?: number;
  type?: string;
  result?: unknown;
  error?: string;
  message?: string;
}

/** A BiDi RemoteValue (only primitives are asked for here: scripts return JSON strings). */
interface RemoteValue {
  type: string;
  value?: unknown;
}

type EvaluateResult = { type: 'success'; result: RemoteValue } | { type: 'exception'; exceptionDetails: { text: string } };

/** One tab. */
export class FirefoxPage {
  constructor(
    private readonly browser: Firefox,
    readonly context: string,
  ) {}

  /** Loads `url` and waits until the document is parsed (live images never finish loading). */
  async navigate(url: string): Promise<void> {
    await this.browser.send('browsingContext.navigate', { context: this.context, url, wait: 'interactive' });
  }

  /**
   * Runs `expression` in the page (awaiting it if it is a promise) and returns
   * its value through JSON, so the caller names the shape it expects.
   */
  async evaluate<T>(expression: string): Promise<T> {
    const wrapped = `(async () => JSON.stringify(await (${expression})))()`;
    const answer = (await this.browser.send('script.evaluate', {
      expression: wrapped,
      target: { context: this.context },
      awaitPromise: true,
    })) as EvaluateResult;
    if (answer.type === 'exception') throw new Error(`script threw in Firefox: ${answer.exceptionDetails.text}`);
    if (answer.result.type !== 'string' || typeof answer.result.value !== 'string') {
      throw new Error(`script returned ${answer.result.type}, not JSON`);
    }
    return JSON.parse(answer.result.value) as T;
  }

  /** The pixels of a viewport rectangle as base64 PNG, as Firefox painted them. */
  async screenshot(box: { x: number; y: number; width: number; height: number }): Promise<string> {
    const answer = (await this.browser.send('browsingContext.captureScreenshot', {
      context: this.context,
      clip: { type: 'box', ...box },
    })) as { data: string };
    return answer.data;
  }
}

/** Headless Firefox driven over WebDriver BiDi. */
export class Firefox {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private closed = false;

  private constructor(
    private readonly process: ChildProcess,
    private readonly socket: WebSocket,
    private readonly profile: string,
    private readonly killOnExit: () => void,
  ) {
    // Text frames arrive as one Buffer (ws's default binaryType).
    socket.on('message', (data: WebSocket.RawData) => this.receive(Buffer.isBuffer(data) ? data.toString('utf8') : ''));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('the WebDriver BiDi connection closed')));
  }

  /** Starts Firefox with a fresh profile on a port it picks, and opens a BiDi session. */
  static async launch(): Promise<Firefox> {
    const profile = await mkdtemp(join(tmpdir(), 'rsvg-firefox-'));
    const prefs = Object.entries(PREFS).map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});\n`);
    await writeFile(join(profile, 'user.js'), prefs.join(''));
    const child = spawn(FIREFOX, ['--headless', '--no-remote', '--remote-debugging-port=0', '-profile', profile, 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
    });
    // A test run that dies without its teardown must not leave Firefox behind.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    try {
      const endpoint = await bidiEndpoint(child);
      const socket = new WebSocket(`${endpoint}/session`);
      await new Promise<void>((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      const firefox = new Firefox(child, socket, profile, killOnExit);
      await firefox.send('session.new', { capabilities: { alwaysMatch: { acceptInsecureCerts: true } } });
      return firefox;
    } catch (err) {
      child.kill('SIGKILL');
      process.off('exit', killOnExit);
      await rm(profile, { recursive: true, force: true });
      throw err;
    }
  }

  /** Sends one BiDi command and waits for its answer. */
  send(method: string, params: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`${method}: Firefox is closed`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve,
        reject: (err) => reject(new Error(`${method}: ${err.message}`)),
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** A new tab. */
  async newPage(): Promise<FirefoxPage> {
    const { context } = (await this.send('browsingContext.create', { type: 'tab' })) as { context: string };
    return new FirefoxPage(this, context);
  }

  /** Ends the session and the process (killed if it does not exit), and deletes the profile. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await Promise.race([this.send('session.end', {}), new Promise((resolve) => setTimeout(resolve, 2_000))]);
    } catch {
      // The process is killed below either way.
    }
    this.closed = true;
    this.socket.terminate();
    const exited = new Promise<void>((resolve) => {
      if (this.process.exitCode !== null || this.process.signalCode !== null) resolve();
      else this.process.once('exit', () => resolve());
    });
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    process.off('exit', this.killOnExit);
    await rm(this.profile, { recursive: true, force: true });
  }

  private receive(text: string): void {
    const message = JSON.parse(text) as BidiMessage;
    if (message.id === undefined) return; // an event: none is subscribed to
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.type === 'error') waiter.reject(new Error(`${message.error ?? 'error'}: ${message.message ?? ''}`));
    else waiter.resolve(message.result);
  }

  private failAll(err: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}

/** Reads Firefox's stderr until it says where WebDriver BiDi listens. */
function bidiEndpoint(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        done();
        resolve(match[1]);
      }
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`Firefox exited (${code ?? 'signal'}) before WebDriver BiDi listened:\n${output}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`Firefox did not start WebDriver BiDi within 60 s:\n${output}`));
    }, 60_000);
    function done() {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining stderr so Firefox never blocks on a full pipe.
      child.stderr?.resume();
    }
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
