import type { Eta } from 'eta';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { AccountService } from '../domain/auth/accounts.js';
import type { KeyRing } from '../domain/auth/keys.js';
import type { TokenService } from '../domain/auth/tokens.js';
import type { SessionService } from '../domain/sessions/session-service.js';
import type { StreamHub } from '../domain/streaming/hub.js';
import type { Store } from '../store/store.js';

/** What handlers may use. They reach the domain only through this. */
export interface AppContext {
  config: Config;
  store: Store;
  sessions: SessionService;
  keys: KeyRing;
  tokens: TokenService;
  accounts: AccountService;
  hub: StreamHub;
  views: Eta;
  metrics: Registry;
  /** The combined contract as published at /openapi.json. */
  contract: Record<string, unknown>;
}
