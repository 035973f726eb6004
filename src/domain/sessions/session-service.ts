import { randomUUID } from 'node:crypto';
import { DomainError } from '../errors.js';
import { sessionKey, userRef, type SessionRef } from '../ids.js';
import type { Renderer } from '../render/renderer.js';
import { encodeStreamEvent } from '../streaming/events.js';
import type { Store, StoredEntry } from '../../store/store.js';

export type Args = Record<string, unknown>;

/** What is kept per session: the inputs and the frame rendered from them. */
interface SessionRecord {
  template: string;
  args: Args;
  svg: string;
  etag: string;
  createdAt: number;
  updatedAt: number;
  /**
   * Names this version of the session, new on every write even when nothing
   * else changes (updatedAt alone could repeat across racing writers on
   * instances with different clocks). Its ETag is what If-Match compares.
   */
  revision: string;
}

/** What a write takes from the version it replaces (not its frame or args). */
type Basis = Pick<SessionRecord, 'template' | 'createdAt' | 'updatedAt' | 'revision'>;

/** A stored entry as this instance last read or wrote it, with what a write needs of it already decoded. */
interface Remembered extends StoredEntry {
  readonly basis: Basis;
}

function basisOf({ template, createdAt, updatedAt, revision }: SessionRecord): Basis {
  return { template, createdAt, updatedAt, revision };
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

/**
 * If-Match as the domain takes it: a write goes through only while the
 * session's ETag is one of these. Absent: no condition (last write wins).
 */
export interface WriteCondition {
  ifMatch?: readonly string[];
}

/** The session's strong ETag (RFC 9110): its revision, quoted. */
export function sessionEtag(session: Pick<SessionRecord, 'revision'>): string {
  return `"${session.revision}"`;
}

/**
 * The write time and 48 random bits. The bits are the last group of a v4 UUID,
 * all random: Node hands UUIDs out of a buffer it refills now and then, where
 * randomBytes() would draw from OpenSSL on every write.
 */
function newRevision(updatedAt: number): string {
  return `${updatedAt.toString(36)}-${randomUUID().slice(24)}`;
}

function notFound(): DomainError {
  return new DomainError('not_found', 'no such session, or it has expired');
}

function changedSince(): DomainError {
  return new DomainError(
    'precondition_failed',
    'the session has changed since the version named in If-Match; read it again (its new ETag) and decide',
  );
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

function decodeRecord(value: string): SessionRecord {
  const record = JSON.parse(value) as Omit<SessionRecord, 'revision'> & Partial<Pick<SessionRecord, 'revision'>>;
  // Stored before sessions had revisions: named after their last write, which stays until the next.
  const revision = record.revision ?? `u${record.updatedAt.toString(36)}`;
  return { ...record, revision };
}

function decode(ref: SessionRef, value: string, expiresAt: number | null): SessionSnapshot {
  return { ...decodeRecord(value), ref, expiresAt };
}

/**
 * What streams and data feeds show of a stored session, from the store's
 * entry: for readers that know a session only by its key (the stream hub,
 * re-reading after the store reconnected or at its expiry).
 */
export function stateOfStored(
  value: string,
  expiresAt: number | null,
): { svg: string; updatedAt: number; expiresAt: number | null; revision: string; args: Args } {
  const { svg, updatedAt, revision, args } = decodeRecord(value);
  return { svg, updatedAt, expiresAt, revision, args };
}

function encode(record: SessionRecord): string {
  const { template, args, svg, etag, createdAt, updatedAt, revision } = record;
  return JSON.stringify({ template, args, svg, etag, createdAt, updatedAt, revision });
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

/** Sessions whose last-seen value SessionService keeps for writes, and the largest value kept. */
const RECENT_MAX = 1024;
const RECENT_VALUE_MAX_CHARS = 16_384;

/**
 * Sessions of both kinds: render once per write, store the frame, publish it.
 * Readers (streams, /frame) never render.
 */
export class SessionService {
  private readonly now: () => number;
  private readonly maxSessionsPerUser: number;
  /**
   * The value of each session this instance last read or wrote (a bounded LRU),
   * so a write can go straight to the store's compare-and-swap instead of
   * reading first, and without parsing the value again. Never answers a read:
   * readers always ask the store.
   */
  private readonly recent = new Map<string, Remembered>();
  /**
   * Updates under way on this instance, by session key, and the newest
   * updatedAt one of them has sent to the store: overlapping writes read the same
   * version, and each must still go out newer than the one sent before it.
   */
  private readonly writing = new Map<string, { count: number; lastVersion: number }>();

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
    const record: SessionRecord = {
      template: input.template,
      args: input.args,
      ...frame,
      createdAt: at,
      updatedAt: at,
      revision: newRevision(at),
    };
    const expiresAt = at + input.ttlSeconds * 1000;
    const value = encode(record);
    if (!(await this.store.create(key, value, expiresAt))) {
      throw new DomainError('conflict', 'a session with this id already exists');
    }
    if (ref.kind === 'user') await this.admitToIndex(ref.userId, ref.sessionId, key, at);
    this.remember(key, { value, expiresAt, basis: basisOf(record) });
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

  /**
   * Renders a template exactly as a write would (same limits, same checks of
   * the output), storing and publishing nothing: an editor's live preview.
   */
  async preview(template: string, args: Args): Promise<string> {
    return (await this.renderer.render(template, args)).svg;
  }

  async find(ref: SessionRef): Promise<SessionSnapshot | null> {
    const key = sessionKey(ref);
    const entry = await this.store.get(key);
    if (!entry) {
      this.recent.delete(key);
      return null;
    }
    const record = decodeRecord(entry.value);
    this.remember(key, { ...entry, basis: basisOf(record) });
    return { ...record, ref, expiresAt: entry.expiresAt };
  }

  async get(ref: SessionRef): Promise<SessionSnapshot> {
    const session = await this.find(ref);
    if (!session) throw notFound();
    return session;
  }

  /**
   * With `ifMatch`, the write goes through only over the version it names:
   * checked before rendering (RFC 9110 section 13.2.2: preconditions come
   * before the request's content is worked on, so a stale write costs no
   * render), and again by the store in the write itself, since another writer
   * may have come in while this one rendered.
   */
  async update(ref: SessionRef, input: UpdateSession, condition: WriteCondition = {}): Promise<SessionSnapshot> {
    const key = sessionKey(ref);
    const { ifMatch } = condition;
    // A session this instance read or wrote last is written over that version
    // without reading it first: the store swaps it only if it is still the
    // stored one, else (another writer came in) the update starts over from a read.
    // Only when no other write to it is under way here: concurrent writes would
    // all swap over the same remembered value and all but one start over.
    const remembered = ifMatch || this.writing.has(key) ? undefined : this.recent.get(key);
    const underWay = this.writing.get(key);
    if (underWay) underWay.count++;
    else this.writing.set(key, { count: 1, lastVersion: 0 });
    try {
      if (remembered) {
        try {
          const written = await this.write(ref, key, remembered, input, true);
          if (written) return written;
        } catch (err) {
          // The remembered template may be one another writer has replaced since: judge the current one.
          if (!(err instanceof DomainError && err.code === 'template_invalid')) throw err;
          this.recent.delete(key);
        }
      }
      const entry = await this.store.get(key);
      if (!entry) {
        this.recent.delete(key);
        throw notFound();
      }
      // Writers of one session often read the version this instance wrote last: already decoded.
      const known = this.recent.get(key);
      const written = await this.write(ref, key, known?.value === entry.value ? { ...entry, basis: known.basis } : entry, input, ifMatch);
      if (!written) throw changedSince();
      return written;
    } finally {
      const left = this.writing.get(key);
      if (left && --left.count === 0) this.writing.delete(key);
    }
  }

  /**
   * Renders the update over `entry` and stores it. With a condition (If-Match
   * tags, or `true` for "only over `entry` itself") the store swaps the value
   * only while `entry` is still stored; null means it no longer is.
   */
  private async write(
    ref: SessionRef,
    key: string,
    entry: StoredEntry & { basis?: Basis },
    input: UpdateSession,
    ifMatch: readonly string[] | true | undefined,
  ): Promise<SessionSnapshot | null> {
    const current = entry.basis ?? decodeRecord(entry.value);
    if (Array.isArray(ifMatch) && !ifMatch.includes(sessionEtag(current))) return null;
    const template = input.template ?? current.template;
    const frame = await this.renderer.render(template, input.args);
    // Strictly increasing, so viewers can drop a frame older than one they showed.
    // The store command goes out in this same synchronous step, so versions go out in the order they are stored.
    const underWay = this.writing.get(key);
    const updatedAt = Math.max(this.now(), current.updatedAt + 1, (underWay?.lastVersion ?? 0) + 1);
    if (underWay) underWay.lastVersion = updatedAt;
    const record: SessionRecord = {
      template,
      args: input.args,
      ...frame,
      createdAt: current.createdAt,
      updatedAt,
      revision: newRevision(updatedAt),
    };
    const value = encode(record);
    const expiresAt = input.ttlSeconds === undefined ? undefined : updatedAt + input.ttlSeconds * 1000;
    // Without a new lifetime the write keeps the expiry just read, so the frame can name it
    // before the write: the store then writes and broadcasts in one step (one round trip).
    const announce = encodeStreamEvent({
      type: 'frame',
      svg: frame.svg,
      etag: frame.etag,
      version: updatedAt,
      expiresAt: expiresAt ?? entry.expiresAt,
      revision: record.revision,
      args: record.args,
    });
    let stored: StoredEntry | null;
    if (ifMatch) {
      const written = await this.store.replaceIfUnchanged(key, entry.value, value, expiresAt, announce);
      if (written.outcome === 'changed') {
        this.recent.delete(key);
        return null;
      }
      stored = written.outcome === 'replaced' ? written.entry : null;
    } else {
      stored = await this.store.replace(key, value, expiresAt, announce);
    }
    if (!stored) {
      this.recent.delete(key);
      throw notFound();
    }
    this.remember(key, { value, expiresAt: stored.expiresAt, basis: basisOf(record) });
    return { ...record, ref, expiresAt: stored.expiresAt };
  }

  /** Keeps the value just read or written, least recently used out first; large ones are not kept. */
  private remember(key: string, entry: Remembered): void {
    this.recent.delete(key);
    if (entry.value.length > RECENT_VALUE_MAX_CHARS) return;
    this.recent.set(key, entry);
    if (this.recent.size > RECENT_MAX) {
      const oldest = this.recent.keys().next();
      if (!oldest.done) this.recent.delete(oldest.value);
    }
  }

  /** With `ifMatch`, deletes only the version it names, in one step with the check (as update). */
  async delete(ref: SessionRef, condition: WriteCondition = {}): Promise<void> {
    const key = sessionKey(ref);
    this.recent.delete(key);
    const { ifMatch } = condition;
    let outcome: 'deleted' | 'changed' | 'missing';
    if (ifMatch) {
      const entry = await this.store.get(key);
      if (!entry) outcome = 'missing';
      else if (!ifMatch.includes(sessionEtag(decode(ref, entry.value, entry.expiresAt)))) outcome = 'changed';
      else outcome = await this.store.deleteIfUnchanged(key, entry.value);
    } else {
      outcome = (await this.store.delete(key)) ? 'deleted' : 'missing';
    }
    if (outcome === 'changed') throw changedSince();
    if (ref.kind === 'user') await this.store.indexRemove(userIndexKey(ref.userId), [ref.sessionId]);
    if (outcome === 'missing') throw notFound();
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
