import { buildWebClient } from '../scripts/build-web.js';

/** The pages load /assets/app.js: build the browser bundle once before the suite. */
export default async function setup(): Promise<void> {
  // Said once at the top of the run, so a skip is never silent.
  for (const [variable, what] of [
    ['SKIP_REDIS', 'Redis-backed suites'],
    ['SKIP_BROWSER', 'browser tests'],
  ] as const) {
    if (process.env[variable] === '1') console.warn(`${variable}=1: the ${what} are skipped if their dependency is missing`);
  }
  await buildWebClient();
}
