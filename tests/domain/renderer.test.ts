import { afterAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import { WorkerRenderer, type RendererLogger } from '../../src/domain/render/renderer.js';

const SVG = 'xmlns="http://www.w3.org/2000/svg"';
const svg = (inner: string) => `<svg ${SVG}>${inner}</svg>`;

/** Collects what the renderer logs, so tests can see that a failure was logged with its cause. */
function recordingLog(): RendererLogger & { entries: Array<{ level: string; obj: object; msg: string }> } {
  const entries: Array<{ level: string; obj: object; msg: string }> = [];
  return {
    entries,
    warn: (obj, msg) => entries.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => entries.push({ level: 'error', obj, msg }),
  };
}

const renderer = new WorkerRenderer({ threads: 2, timeoutMs: 1000, queueMax: 64, log: recordingLog() });
afterAll(() => renderer.close());

async function failure(r: WorkerRenderer, template: string, args: Record<string, unknown> = {}): Promise<DomainError> {
  const err = await r.render(template, args).then(
    () => {
      throw new Error(`template rendered but should not have: ${template}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

async function rejection(template: string, args: Record<string, unknown> = {}): Promise<DomainError> {
  const err = await failure(renderer, template, args);
  expect(err.code, err.message).toBe('template_invalid');
  return err;
}

describe('Liquid renderer', () => {
  it('When args are interpolated, then output is XML-escaped unless piped through raw', async () => {
    const { svg: out } = await renderer.render(svg('<text>{{ a }}|{{ n | upcase }}</text><text>{{ r | raw }}</text>'), {
      a: '<b> & "q"',
      n: 'bob',
      r: '<tspan>raw</tspan>',
    });
    expect(out).toBe(svg('<text>&lt;b&gt; &amp; &#34;q&#34;|BOB</text><text><tspan>raw</tspan></text>'));
  });

  it('When the template uses if and for, then it renders like Tera did for clients', async () => {
    const template = svg('{% if on %}{% for i in items %}<text>{{ i }}</text>{% endfor %}{% else %}off{% endif %}');
    const { svg: out, etag } = await renderer.render(template, { on: true, items: [1, 2] });
    expect(out).toBe(svg('<text>1</text><text>2</text>'));
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
  });

  it('When a variable is missing, then it renders empty', async () => {
    expect((await renderer.render(svg('<t>{{ missing }}</t>'), {})).svg).toBe(svg('<t></t>'));
  });

  it('When the template has a syntax error, then the engine message comes back as template_invalid', async () => {
    const err = await rejection('{% if %}');
    expect(err.message).toMatch(/template could not be rendered: .+/);
  });

  it('When the template reaches for prototypes or constructors, then nothing leaks', async () => {
    const probes = [
      '{{ a.constructor }}',
      '{{ a.__proto__ }}',
      '{{ a.constructor.constructor }}',
      "{{ a['constructor'] }}",
      '{{ a.toString }}',
      '{{ a.hasOwnProperty }}',
      '{{ s.length }}',
    ];
    for (const probe of probes) {
      const { svg: out } = await renderer.render(svg(`<text>${probe}</text>`), { a: {}, s: 'abc' });
      expect(out, probe).not.toMatch(/function|native code|\[object/);
    }
  });

  it('When the template tries to read files, then it is refused', async () => {
    for (const template of ["{% include '/etc/passwd' %}", "{% render '../../package.json' %}", "{% layout '/etc/hostname' %}x"]) {
      const err = await rejection(template);
      expect(err.message, template).not.toContain('root:');
    }
  });

  it('When the template loops a billion times or nests deeply, then it costs a 400 and the pool still works', async () => {
    await rejection('{% for i in (1..1000000000) %}{{ i }}{% endfor %}');
    await rejection('{% for a in (1..100000) %}{% for b in (1..100000) %}x{% endfor %}{% endfor %}');
    await rejection('{% assign s = "xxxxxxxxxx" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s }}');
    await rejection('{%- for i in (1..10) -%}'.repeat(5000));
    await rejection('{{ x }}'.repeat(20_000));
    expect((await renderer.render(`<svg ${SVG}/>`, {})).svg).toBe(`<svg ${SVG}/>`);
  });

  it('When a filter is unknown, then strictFilters rejects it', async () => {
    await rejection(svg('{{ x | eval }}'));
  });

  it('When the output would be larger than the limit, then it is refused', async () => {
    await rejection(svg('{% for i in (1..300) %}{{ big }}{% endfor %}'), { big: 'y'.repeat(10_000) });
  });
});

describe('rendered output must be an SVG document', () => {
  it('When the output is not XML, has no SVG root or lacks the SVG namespace, then it is template_invalid with line and column', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['hello {{ n }}', { n: 1 }, /line 1, column \d+/],
      ['<svg>{{ n }}</svg>', { n: 1 }, /SVG namespace/],
      ['<html xmlns="http://www.w3.org/1999/xhtml"/>', {}, /root element must be <svg/],
      [svg('<a>'), {}, /line 1, column \d+/],
      [`<svg ${SVG}/>\n<svg ${SVG}/>`, {}, /line 2, column \d+/],
      ['', {}, /root element/],
    ];
    for (const [template, args, message] of cases) {
      const err = await rejection(template, args);
      expect(err.message, template).toMatch(message);
    }
  });

  it('When output holds characters XML forbids (the 1 MB of U+0001 amplification), then it is refused before it is stored', async () => {
    // A tenth of the reported size: the parser stops at the first bad character either way.
    const err = await rejection(svg('{% for i in (1..100) %}{{ c }}{% endfor %}'), { c: '\u0001'.repeat(1000) });
    expect(err.message).toMatch(/line 1, column \d+/);
    await rejection(svg('{{ c | raw }}'), { c: '\u0000' });
  });

  it('When output declares a DOCTYPE (entity expansion in every viewer), then it is refused', async () => {
    const err = await rejection(`<!DOCTYPE svg [<!ENTITY a "aaaaaaaa">]><svg ${SVG}>&a;</svg>`);
    expect(err.message).toContain('DOCTYPE');
  });

  it('When a template or an argument would put the part boundary in the output, then it is refused in every variant', async () => {
    const forged = '--frame\r\nContent-Type: image/svg+xml\r\n\r\n<svg xmlns="http://www.w3.org/2000/svg"><text>forged</text></svg>';
    const variants = [
      svg(`<text>\r\n${forged}</text>`),
      svg(`<text>\n${forged.replaceAll('\r\n', '\n')}</text>`),
      svg(`<text>inline${forged}</text>`),
      svg('<!-- --frame -->'),
    ];
    for (const template of variants) {
      const err = await rejection(template);
      expect(err.message, template).toContain('--frame');
    }
    // Through an argument: XML escaping leaves "--frame" and line breaks as they are.
    for (const arg of [`\r\n${forged}`, `\n${forged}`, `x${forged}`]) {
      const err = await rejection(svg('<text>{{ a }}</text>'), { a: arg });
      expect(err.message).toContain('--frame');
    }
  });
});

describe('Liquid renderer hard timeout', () => {
  it('When a render outlives the hard timeout, then its worker is stopped and the next render still works', async () => {
    // liquidjs's cooperative limit is lifted here, so only the pool's hard timeout can stop this render.
    const strict = new WorkerRenderer({ threads: 1, timeoutMs: 1500, queueMax: 64, cooperativeLimitMs: 60_000, log: recordingLog() });
    try {
      const err = await failure(strict, '{% for a in (1..100000) %}{% for b in (1..100000) %}{% endfor %}{% endfor %}');
      expect(err.code).toBe('template_invalid');
      expect(err.message).toContain('longer than 1500 ms');
      expect((await strict.render(`<svg ${SVG}/>`, {})).svg).toBe(`<svg ${SVG}/>`);
    } finally {
      await strict.close();
    }
  });

  it('When renders wait behind a slow one, then the wait does not count against their timeout', async () => {
    // One worker, a 1.5 s render ahead of three quick ones with a 1 s timeout: the
    // quick ones wait longer than their timeout in the queue and must still succeed.
    const strict = new WorkerRenderer({ threads: 1, timeoutMs: 1000, queueMax: 64, cooperativeLimitMs: 60_000, log: recordingLog() });
    try {
      const slow = failure(strict, '{% for a in (1..100000) %}{% for b in (1..100000) %}{% endfor %}{% endfor %}');
      const quick = [1, 2, 3].map((n) => strict.render(svg('<text>{{ n }}</text>'), { n }));
      expect((await slow).code).toBe('template_invalid');
      const frames = await Promise.all(quick);
      expect(frames.map((f) => f.svg)).toEqual([1, 2, 3].map((n) => svg(`<text>${n}</text>`)));
    } finally {
      await strict.close();
    }
  });
  it('When a slow render sits in the middle of a batch, then only it fails and the renders before and after it are rendered', async () => {
    // Asked for in one turn, the five travel to the single worker as one batch; the
    // worker is stopped on the third, so the first two lose their results and the
    // last two never ran: all four must still come back rendered.
    const strict = new WorkerRenderer({ threads: 1, timeoutMs: 1000, queueMax: 64, cooperativeLimitMs: 60_000, log: recordingLog() });
    try {
      const slowTemplate = '{% for a in (1..100000) %}{% for b in (1..100000) %}{% endfor %}{% endfor %}';
      const asked = [1, 2, 'slow', 4, 5].map((n) =>
        n === 'slow' ? failure(strict, slowTemplate) : strict.render(svg('<text>{{ n }}</text>'), { n }),
      );
      const settled = await Promise.all(asked);
      expect((settled[2] as DomainError).message).toContain('longer than 1000 ms');
      expect(settled.filter((_, i) => i !== 2).map((f) => (f as { svg: string }).svg)).toEqual(
        [1, 2, 4, 5].map((n) => svg(`<text>${n}</text>`)),
      );
    } finally {
      await strict.close();
    }
  });
});

describe('Liquid renderer batches under a storm', () => {
  it('When a valid render keeps sharing batches with costly templates, then it is sent again on its own and rendered', async () => {
    // One batch: the valid render first, then three that each outlive the timeout.
    // Put back into a batch with the next costly one, the valid render would lose
    // its result every time its worker is stopped.
    const strict = new WorkerRenderer({ threads: 1, timeoutMs: 300, queueMax: 64, cooperativeLimitMs: 60_000, log: recordingLog() });
    try {
      const slowTemplate = '{% for a in (1..100000) %}{% for b in (1..100000) %}{% endfor %}{% endfor %}';
      const valid = strict.render(svg('<text>{{ n }}</text>'), { n: 'kept' });
      const slow = [1, 2, 3].map(() => failure(strict, slowTemplate));
      expect((await valid).svg).toBe(svg('<text>kept</text>'));
      for (const err of await Promise.all(slow)) expect(err.code).toBe('template_invalid');
    } finally {
      await strict.close();
    }
  });
});

describe('render admission', () => {
  it('When the queue is full, then one more render is unavailable with Retry-After at once, never template_invalid', async () => {
    const small = new WorkerRenderer({ threads: 1, timeoutMs: 2000, queueMax: 2, cooperativeLimitMs: 60_000, log: recordingLog() });
    try {
      const busy = '{% for a in (1..100000) %}{% for b in (1..100000) %}{% endfor %}{% endfor %}';
      const outcomes = Array.from({ length: 6 }, () => small.render(busy, {}).catch((e: unknown) => e));
      const settled = await Promise.all(outcomes);
      const codes = settled.map((e) => (e instanceof DomainError ? e.code : 'rendered'));
      // One runs, two queue; the queue holds at most two, so at least three are turned away.
      expect(codes.filter((c) => c === 'unavailable').length).toBeGreaterThanOrEqual(3);
      for (const e of settled) {
        if (e instanceof DomainError && e.code === 'unavailable') expect(e.details.retryAfterSeconds).toBeGreaterThan(0);
      }
    } finally {
      await small.close();
    }
  });

  it('When the renderer itself fails (pool destroyed), then it is unavailable and logged with its cause, not blamed on the template', async () => {
    const log = recordingLog();
    const doomed = new WorkerRenderer({ threads: 1, timeoutMs: 1000, queueMax: 4, log });
    await doomed.close();
    const err = await failure(doomed, `<svg ${SVG}/>`);
    expect(err.code).toBe('unavailable');
    expect(log.entries.some((e) => e.level === 'error' && 'err' in e.obj)).toBe(true);
  });
});

describe('worker out of memory', () => {
  // The template from the report: it builds a 2M-character string, splits it and
  // sorts the pieces, running the worker out of heap near the hard timeout.
  const bomb =
    '{% assign s = "x" %}{% for i in (1..21) %}{% assign s = s | append: s %}{% endfor %}{% assign a = s | split: "" %}{% assign b = a | sort_natural: "x" %}{{ b | size }}';

  it('When the timeout races a worker running out of heap, replayed 20 times, then each costs only its request and the pool keeps rendering', async () => {
    const log = recordingLog();
    const pool = new WorkerRenderer({ threads: 2, timeoutMs: 1000, queueMax: 64, log });
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const repeats = 2 + (attempt % 6);
        const err = await failure(pool, bomb.repeat(repeats));
        expect(['template_invalid', 'unavailable']).toContain(err.code);
      }
      // Still serving after every replay.
      expect((await pool.render(svg('<text>{{ n }}</text>'), { n: 'alive' })).svg).toBe(svg('<text>alive</text>'));
    } finally {
      await pool.close();
    }
  }, 120_000);
});
