import { afterAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import { WorkerRenderer } from '../../src/domain/render/renderer.js';

const renderer = new WorkerRenderer({ threads: 2, timeoutMs: 1000 });
afterAll(() => renderer.close());

async function rejection(template: string, args: Record<string, unknown> = {}): Promise<DomainError> {
  const err = await renderer.render(template, args).then(
    () => {
      throw new Error(`template rendered but should not have: ${template}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  expect((err as DomainError).code).toBe('template_invalid');
  return err as DomainError;
}

describe('Liquid renderer', () => {
  it('When args are interpolated, then output is XML-escaped unless piped through raw', async () => {
    const { svg } = await renderer.render('<text>{{ a }}|{{ a | raw }}|{{ n | upcase }}</text>', { a: '<b> & "q"', n: 'bob' });
    expect(svg).toBe('<text>&lt;b&gt; &amp; &#34;q&#34;|<b> & "q"|BOB</text>');
  });

  it('When the template uses if and for, then it renders like Tera did for clients', async () => {
    const { svg, etag } = await renderer.render('{% if on %}{% for i in items %}[{{ i }}]{% endfor %}{% else %}off{% endif %}', { on: true, items: [1, 2] });
    expect(svg).toBe('[1][2]');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
  });

  it('When a variable is missing, then it renders empty', async () => {
    expect((await renderer.render('<t>{{ missing }}</t>', {})).svg).toBe('<t></t>');
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
    for (const template of probes) {
      const { svg } = await renderer.render(template, { a: {}, s: 'abc' });
      expect(svg, template).not.toMatch(/function|native code|\[object/);
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
    expect((await renderer.render('<ok/>', {})).svg).toBe('<ok/>');
  });

  it('When a filter is unknown, then strictFilters rejects it', async () => {
    await rejection('{{ x | eval }}');
  });

  it('When the output would be larger than the limit, then it is refused', async () => {
    await rejection('{% for i in (1..300) %}{{ big }}{% endfor %}', { big: 'y'.repeat(10_000) });
  });
});

describe('Liquid renderer hard timeout', () => {
  it('When a render outlives the hard timeout, then its worker is stopped and the next render still works', async () => {
    // liquidjs's cooperative limit is lifted here, so only the pool's hard timeout can stop this render.
    const strict = new WorkerRenderer({ threads: 1, timeoutMs: 1500, cooperativeLimitMs: 60_000 });
    try {
      const err = await strict.render('{% for a in (1..100000) %}{% for b in (1..100000) %}{% endfor %}{% endfor %}', {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).message).toContain('longer than 1500 ms');
      expect((await strict.render('<ok/>', {})).svg).toBe('<ok/>');
    } finally {
      await strict.close();
    }
  });
});
