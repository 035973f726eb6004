import { api, attempt, explain, parseArgs } from './api.js';
import { required, show } from './dom.js';

/** Quiet time after the last keystroke before a preview is asked for: typing is not a burst of renders. */
const DEBOUNCE_MS = 400;

/**
 * The live preview of a template with arguments, rendered by the service
 * (`POST /api/render`, nothing stored) as the person types, before anything is
 * saved. One request at a time: edits made while one is under way are
 * previewed when it returns, so the latest text always wins.
 */
export class Preview {
  private readonly image: HTMLImageElement;
  private readonly message: HTMLElement;
  private timer: number | undefined;
  private running = false;
  private again = false;
  private lastInput = '';
  private objectUrl: string | null = null;

  constructor(
    root: HTMLElement,
    private readonly read: () => { template: string; args: string },
  ) {
    this.image = required('img', HTMLImageElement, root);
    this.message = required('.message', HTMLElement, root);
  }

  schedule(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.run(), DEBOUNCE_MS);
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    const { template, args } = this.read();
    const parsed = parseArgs(args);
    if (!parsed.ok) {
      show(this.message, `No preview: ${parsed.message}`);
      return;
    }
    const input = JSON.stringify([template, parsed.args]);
    if (input === this.lastInput) return;
    this.running = true;
    try {
      const { data, error, response } = await attempt(() =>
        api.POST('/api/render', { body: { template, args: parsed.args }, parseAs: 'blob' }),
      );
      if (data) {
        this.lastInput = input;
        this.showImage(data);
        show(this.message, '');
      } else if (response?.status === 400) {
        // The engine's or the XML parser's own words, with line and column.
        show(this.message, `No preview: ${(error as { error?: string } | undefined)?.error ?? 'the template cannot be rendered'}`);
      } else if (response?.status === 429) {
        show(this.message, 'Preview paused: too many previews from here. It resumes within a minute.');
      } else {
        show(this.message, `No preview: ${explain(response?.status, error)}`);
      }
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        void this.run();
      }
    }
  }

  private showImage(svg: Blob): void {
    // A blob: URL (allowed by the pages' img-src) shows the SVG as an image: no script in it can run.
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = url;
    this.image.src = url;
    this.image.hidden = false;
  }
}
