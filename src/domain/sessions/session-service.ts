import { DomainError } from '../errors.js';
import { sessionKey, type SessionRef } from '../ids.js';
import type { Renderer } from '../render/renderer.js';
import { encodeStreamEvent } from '../streaming/events.js';
import type { Store } from '../../store/store.js';

export type Args = Record<string, unknown>;

/** What is kept per session: the inputs and the frame rendered from them. */
interface SessionRecord {
  template: string;
  args: Args;
  svg: string;
  etag: string;
  createdAt: number;
  updatedAt: number;
}

export interface SessionSnapshot extends SessionRecord {
  ref: SessionRef;
  expiresAt: number | null;
}

export interface CreateSession {
  template: string;
  args: Args;
  ttlSeconds: number;
}

export interface UpdateSession {
  args: Args;
  template?: string;
  /** When absent the session keeps its remaining time to live. */
  ttlSeconds?: number;
}

function decode(ref: SessionRef, value: string, expiresAt: number | null): SessionSnapshot {
  return { ...(JSON.parse(value) as SessionRecord), ref, expiresAt };
}

function encode(record: SessionRecord): string {
  const { template, args, svg, etag, createdAt, updatedAt } = record;
  return JSON.stringify({ template, args, svg, etag, createdAt, updatedAt });
}

/**
 * Sessions of both kinds: render once per write, store the frame, publish it.
 * Readers (streams, /frame) never render.
 */
export class SessionService {
  constructor(
    private readonly store: Store,
    private readonly renderer: Renderer,
    private readonly now: () => number = Date.now,
  ) {}

  async create(ref: SessionRef, input: CreateSession): Promise<SessionSnapshot> {
    const key = sessionKey(ref);
    const frame = await this.renderer.render(input.template, input.args);
    const at = this.now();
    const record: SessionRecord = { template: input.template, args: input.args, ...frame, createdAt: at, updatedAt: at };
    if (!(await this.store.create(key, encode(record), input.ttlSeconds * 1000))) {
      throw new DomainError('conflict', 'a session with this id already exists');
    }
    return { ...record, ref, expiresAt: at + input.ttlSeconds * 1000 };
  }

  async find(ref: SessionRef): Promise<SessionSnapshot | null> {
    const entry = await this.store.get(sessionKey(ref));
    return entry ? decode(ref, entry.value, entry.expiresAt) : null;
  }

  async get(ref: SessionRef): Promise<SessionSnapshot> {
    const session = await this.find(ref);
    if (!session) throw new DomainError('not_found', 'no such session, or it has expired');
    return session;
  }

  async update(ref: SessionRef, input: UpdateSession): Promise<SessionSnapshot> {
    const current = await this.get(ref);
    const template = input.template ?? current.template;
    const frame = await this.renderer.render(template, input.args);
    // Strictly increasing, so viewers can drop a frame older than one they showed.
    const updatedAt = Math.max(this.now(), current.updatedAt + 1);
    const record: SessionRecord = { template, args: input.args, ...frame, createdAt: current.createdAt, updatedAt };
    const key = sessionKey(ref);
    const stored = await this.store.replace(key, encode(record), input.ttlSeconds === undefined ? undefined : input.ttlSeconds * 1000);
    if (!stored) throw new DomainError('not_found', 'no such session, or it has expired');
    await this.store.publish(
      key,
      encodeStreamEvent({ type: 'frame', svg: frame.svg, etag: frame.etag, version: updatedAt, expiresAt: stored.expiresAt }),
    );
    return { ...record, ref, expiresAt: stored.expiresAt };
  }

  async delete(ref: SessionRef): Promise<void> {
    const key = sessionKey(ref);
    if (!(await this.store.delete(key))) throw new DomainError('not_found', 'no such session, or it has expired');
    await this.store.publish(key, encodeStreamEvent({ type: 'end' }));
  }
}
