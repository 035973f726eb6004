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

/**
 * How many index entries one listing request may examine: a few pages plus a
 * constant, whatever the size of the user's index.
 */
export function listingBudget(limit: number): number {
  return 4 * limit + 100;
}

function decode(ref: SessionRef, value: string, expiresAt: number | null): SessionSnapshot {
  return { ...(JSON.parse(value) as SessionRecord), ref, expiresAt };
}

/**
 * The frame a stored session shows, from the store's value: for readers that
 * know a session only by its key (the stream hub, re-reading after the store
 * reconnected).
 */
export function frameOfStored(value: string): { svg: string; version: number } {
  const { svg, updatedAt } = JSON.parse(value) as SessionRecord;
  return { svg, version: updatedAt };
}

function encode(record: SessionRecord): string {
  const { template, args, svg, etag, createdAt, updatedAt } = record;
  return JSON.stringify({ template, args, svg, etag, createdAt, updatedAt });
}

export interface SessionLimits {
  /** Live sessions one user may hold; 0 = no limit. */
  maxSessionsPerUser?: number;
  now?: () => number;
}

/** A full index is pruned in batches this large at most, so a create costs a bounded amount. */
const QUOTA_PRUNE_MAX = 1000;
/** Looks a little past the excess, so one prune usually frees room for the next creates too. */
const QUOTA_PRUNE_SLACK = 100;

/**
 * Sessions of both kinds: render once per write, store the frame, publish it.
 * Readers (streams, /frame) never render.
 */
export class SessionService {
  private readonly now: () => number;
  private readonly maxSessionsPerUser: number;

  constructor(
    private readonly store: Store,
    private readonly renderer: Renderer,
    options: SessionLimits = {},
  ) {
    this.now = options.now ?? Date.now;
    this.maxSessionsPerUser = options.maxSessionsPerUser ?? 0;
  }

  async create(ref: SessionRef, input: CreateSession): Promise<SessionSnapshot> {
    const key = sessionKey(ref);
    const frame = await this.renderer.render(input.template, input.args);
    const at = this.now();
    const record: SessionRecord = { template: input.template, args: input.args, ...frame, createdAt: at, updatedAt: at };
    const expiresAt = at + input.ttlSeconds * 1000;
    if (!(await this.store.create(key, encode(record), expiresAt))) {
      throw new DomainError('conflict', 'a session with this id already exists');
    }
    if (ref.kind === 'user') await this.admitToIndex(ref.userId, ref.sessionId, key, at);
    return { ...record, ref, expiresAt };
  }

  /**
   * Adds a new session to its owner's index, then enforces the quota on what
   * the index holds: add first, count after, so concurrent creators can only
   * be refused too eagerly, never let past the quota. Expired members are
   * pruned from the oldest end (a bounded batch) before anyone is refused.
   */
  private async admitToIndex(userId: string, sessionId: string, key: string, at: number): Promise<void> {
    const indexKey = userIndexKey(userId);
    const size = await this.store.indexAdd(indexKey, sessionId, at);
    const max = this.maxSessionsPerUser;
    if (max <= 0 || size <= max) return;
    const oldest = await this.store.indexOldest(indexKey, Math.min(size - max + QUOTA_PRUNE_SLACK, QUOTA_PRUNE_MAX));
    const entries = await this.store.getMany(oldest.map((entry) => sessionKey(userRef(userId, entry.member))));
    const expired = oldest.filter((_, i) => entries[i] === null).map((entry) => entry.member);
    if (expired.length > 0) await this.store.indexRemove(indexKey, expired);
    if (size - expired.length <= max) return;
    await this.store.indexRemove(indexKey, [sessionId]);
    await this.store.delete(key);
    throw new DomainError('quota_exceeded', `a user may hold at most ${max} live sessions; delete one or let one expire`);
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
   *
   * One request examines at most listingBudget(limit) index entries (SPEC §9:
   * cost proportional to the page), so an index full of expired members is
   * worked through across requests: when the budget runs out first, the page
   * holds the live sessions found so far (possibly none) and next_cursor
   * continues after the last entry examined.
   */
  async list(userId: string, limit: number, cursor?: string): Promise<SessionPage> {
    const indexKey = userIndexKey(userId);
    let after = cursor === undefined ? undefined : decodeCursor(cursor);
    const sessions: SessionSnapshot[] = [];
    let budget = listingBudget(limit);
    let batch = 0;
    for (;;) {
      // One past what the page still needs tells whether another live session
      // follows; doubling after a batch of expired members keeps round trips few.
      batch = Math.min(budget, Math.max(limit - sessions.length + 1, batch * 2));
      const page = await this.store.indexPage(indexKey, batch, after);
      budget -= page.length;
      const stored = await this.store.getMany(page.map((entry) => sessionKey(userRef(userId, entry.member))));
      const expired: string[] = [];
      // A live session beyond the page: the listing goes on, whatever the batch size.
      let more = false;
      for (const [i, entry] of page.entries()) {
        const session = stored[i];
        if (!session) {
          expired.push(entry.member);
        } else if (sessions.length < limit) {
          sessions.push(decode(userRef(userId, entry.member), session.value, session.expiresAt));
        } else {
          more = true;
          break;
        }
        after = entry;
      }
      if (expired.length) await this.store.indexRemove(indexKey, expired);
      if (!more && page.length < batch) return { sessions, nextCursor: null };
      // Both ways here examined at least one entry, so `after` is set; null would only end the listing early.
      if (more || budget <= 0) return { sessions, nextCursor: after ? encodeCursor(after) : null };
    }
  }

}
