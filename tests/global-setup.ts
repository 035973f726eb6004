import { buildWebClient } from '../scripts/build-web.js';

/** The pages load /assets/app.js: build the browser bundle once before the suite. */
export default async function setup(): Promise<void> {
  await buildWebClient();
}
