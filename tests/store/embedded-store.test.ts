import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { storeBehaviour } from './store-behaviour.js';

storeBehaviour('embedded', async () => {
  const store = new EmbeddedStore(Date.now, 10);
  return { store, close: () => store.close() };
});
