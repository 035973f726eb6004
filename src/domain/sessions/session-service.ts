import { DomainError } from '../errors.js';
import { sessionKey, userRef, type SessionRef } from '../ids.js';
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

/** Per-user index of session ids scored by creation time (SPEC: user:{user_id}:sessions). */
export function userIndexKey(userId: string): string {
  return `user:${userId}:sessions`;
}

export interface SessionPage {
  sessions: SessionSnapshot[];
  nextCursor: string | null;
}

function encodeCursor(entry: { score: number; member: string }): string {
  return Buffer.from(JSON.stringify([entry.score, entry.member])).toString('base64url');
}

function decodeCursor(cursor: string): { score: number; member: string } {
  try {
    const [score, member] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof score === 'number' && Number.isFinite(score) && typeof member === 'string') return { score, member };
  } catch {
    // fall through
  }
  throw new DomainError('validation_failed', 'cursor is not one this service issued');
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
    const expiresAt = at + input.ttlSeconds * 1000;
    if (!(await this.store.create(key, encode(record), expiresAt))) {
      throw new DomainError('conflict', 'a session with this id already exists');
    }
    if (ref.kind === 'user') await this.store.indexAdd(userIndexKey(ref.userId), ref.sessionId, at);
    return { ...record, ref, expiresAt };
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
    const stored = await this.store.replace(key, encode(record), input.ttlSeconds === undefined ? undefined : updatedAt + input.ttlSeconds * 1000);
    if (!stored) throw new DomainError('not_found', 'no such session, or it has expired');
    await this.store.publish(
      key,
      encodeStreamEvent({ type: 'frame', svg: frame.svg, etag: frame.etag, version: updatedAt, expiresAt: stored.expiresAt }),
    );
    return { ...record, ref, expiresAt: stored.expiresAt };
  }

  async delete(ref: SessionRef): Promise<void> {
    const key = sessionKey(ref);
    const existed = await this.store.delete(key);
    if (ref.kind === 'user') await this.store.indexRemove(userIndexKey(ref.userId), [ref.sessionId]);
    if (!existed) throw new DomainError('not_found', 'no such session, or it has expired');
    await this.store.publish(key, encodeStreamEvent({ type: 'end' }));
  }

  /**
   * A user's live sessions, newest first, from the per-user index only (never
   * a keyspace scan). Index members whose session has expired are pruned on the way.
   */
  async list(userId: string, limit: number, cursor?: string): Promise<SessionPage> {
    const indexKey = userIndexKey(userId);
    let after = cursor === undefined ? undefined : decodeCursor(cursor);
    const sessions: SessionSnapshot[] = [];
    let lastIncluded: { score: number; member: string } | undefined;
    let more = false;
    for (;;) {
      const wanted = limit - sessions.length;
      // One extra tells whether another page exists.
      const page = await this.store.indexPage(indexKey, wanted + 1, after);
      const refs = page.map((entry) => userRef(userId, entry.member));
      const entries = await this.store.getMany(refs.map(sessionKey));
      const expired: string[] = [];
      for (const [i, entry] of entries.entries()) {
        if (!entry) {
          expired.push(page[i]!.member);
        } else if (sessions.length < limit) {
          sessions.push(decode(refs[i]!, entry.value, entry.expiresAt));
          lastIncluded = page[i];
        } else {
          more = true;
          break;
        }
      }
      if (expired.length) await this.store.indexRemove(indexKey, expired);
      if (more || page.length < wanted + 1) break;
      after = page.at(-1);
    }
    return { sessions, nextCursor: more && lastIncluded ? encodeCursor(lastIncluded) : null };
  }

}
