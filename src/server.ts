import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { loadConfig, type Config } from './config.js';
import { StoreUnreachableError } from './store/errors.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error(`realtime-svg: invalid configuration: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

let app: Awaited<ReturnType<typeof buildApp>>;
try {
  app = await buildApp(config);
} catch (err) {
  // A store that is not there is an operator's matter, like a bad variable: one line, no stack.
  if (!(err instanceof StoreUnreachableError)) throw err;
  console.error(`realtime-svg: ${err.message}`);
  process.exit(1);
}
closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: app.log }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an error');
  else app.log.info({ signal }, 'shutting down');
  await app.close();
});

try {
  // Node's default backlog (511) overflows when thousands of viewers reconnect at once
  // (after a deploy or a network blip): the kernel then drops or resets connections.
  await app.listen({ port: config.PORT, host: config.HOST, backlog: config.LISTEN_BACKLOG });
} catch (err) {
  app.log.error({ err }, 'could not listen');
  process.exit(1);
}
