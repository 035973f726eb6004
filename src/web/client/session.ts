import { currentLogin, explain, parseArgs } from './api.js';
import { $, focusOn, remaining, required, show } from './dom.js';
import { renderLoginState, wireLogin } from './login.js';
import { Preview } from './preview.js';
import { followSession, type FeedUpdate } from './feed.js';
import { deleteSession, pathOf, readSession, writeSession, type SessionRef, type Snapshot } from './sessions.js';

/** What the editor last loaded from or saved to the service; `etag` is the version an Update writes over. */
interface Saved {
  template: string;
  argsText: string;
  args: Record<string, unknown>;
  etag: string | null;
  expiresAt: string | null;
}

const formatArgs = (args: Record<string, unknown>) => JSON.stringify(args, null, 2);

/** Copy buttons: the clipboard when the browser allows it, else the text is selected for the person to copy. */
function wireCopyButtons(message: HTMLElement | null): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
    button.addEventListener('click', () => {
      const field = document.getElementById(button.dataset.copy ?? '');
      if (!(field instanceof HTMLInputElement)) return;
      const what = button.getAttribute('aria-label')?.replace(/^Copy /, '') ?? 'text';
      const selectIt = () => {
        field.focus();
        field.select();
        show(message, `Selected ${what}: press Ctrl+C (⌘C) to copy it.`, 'ok');
      };
      if (!('clipboard' in navigator)) {
        selectIt();
        return;
      }
      navigator.clipboard.writeText(field.value).then(() => show(message, `Copied ${what} to the clipboard.`, 'ok'), selectIt);
    });
  }
}

export function sessionPage(root: HTMLElement): void {
  const owner = root.dataset.userId ?? '';
  const sessionId = root.dataset.sessionId ?? '';
  const ref: SessionRef = owner ? { kind: 'user', userId: owner, sessionId } : { kind: 'public', sessionId };

  const live = required('#live', HTMLImageElement);
  const template = required('#template', HTMLTextAreaElement);
  const args = required('#args', HTMLTextAreaElement);
  const update = required('#update', HTMLButtonElement);
  const reason = required('#update-reason');
  const templateNote = required('#template-note');
  const updateMessage = required('#update-message');
  const conflict = required('#conflict');
  const manage = required('#manage');
  const manageMessage = required('#manage-message');
  const deleteConfirm = required('#delete-confirm');

  let saved: Saved | null = null;
  /** A write of this page's own is under way; a feed update that arrives meanwhile waits for its answer. */
  let writing = false;
  let deferred: FeedUpdate | null = null;
  /** The session was deleted or expired: nothing more to write. */
  let ended = false;

  const mayWrite = () => !ended && (ref.kind === 'public' || currentLogin()?.userId === owner);
  const dirty = () => saved !== null && (args.value !== saved.argsText || template.value !== saved.template);

  const refreshPermission = () => {
    const login = currentLogin();
    const allowed = mayWrite();
    update.disabled = !allowed || saved === null;
    args.readOnly = !allowed;
    template.readOnly = !allowed || ref.kind === 'public';
    manage.hidden = ref.kind !== 'user' || !allowed;
    if (ended) reason.textContent = 'This session has ended.';
    else if (allowed) reason.textContent = '';
    else
      reason.textContent = login
        ? `Only ${owner} can update this session; you are logged in as ${login.userId}.`
        : `Log in as ${owner} to update this session.`;
    templateNote.textContent =
      ref.kind === 'public'
        ? "A public session's template is fixed (its API updates only the arguments): create a new session for another template."
        : '';
  };
  // Decided before any request, so the button is never briefly enabled for a non-owner.
  refreshPermission();

  const showLifetime = () => {
    const expiresAt = saved?.expiresAt;
    const text = expiresAt
      ? `Expires in ${remaining(Math.round((Date.parse(expiresAt) - Date.now()) / 1000))} (${new Date(expiresAt).toLocaleString()}).`
      : '';
    required('#lifetime').textContent = text;
    required('#expires').textContent = text;
  };
  window.setInterval(showLifetime, 15_000);

  const fill = (session: Snapshot) => {
    saved = {
      template: session.template,
      argsText: formatArgs(session.args),
      args: session.args,
      etag: session.etag,
      expiresAt: session.expiresAt,
    };
    template.value = saved.template;
    args.value = saved.argsText;
    showLifetime();
    refreshPermission();
    preview.schedule();
  };

  const preview = new Preview(required('#edit-preview'), () => ({ template: template.value, args: args.value }));
  template.addEventListener('input', () => preview.schedule());
  args.addEventListener('input', () => preview.schedule());

  /** Reads the session; replaces the editor's text only when `force`, or when it holds no unsaved edits. */
  const load = async (force: boolean): Promise<boolean> => {
    const result = await readSession(ref);
    if (!result.ok) {
      show(updateMessage, explain(result.status, result.error));
      return false;
    }
    if (force || !dirty()) fill(result.session);
    return true;
  };

  const hideConflict = () => {
    conflict.hidden = true;
  };
  const showConflict = () => {
    required('#conflict-text').textContent =
      'Someone else changed this session after you loaded it, so your update was not saved and nothing of theirs was overwritten. ' +
      'Load their version (your edits here are replaced), or save yours over it.';
    conflict.hidden = false;
    show(updateMessage, explain(412, undefined));
    focusOn(required('#conflict-reload'));
  };

  /** Saves the editor over version `etag`. */
  const save = async (etag: string | null): Promise<void> => {
    const parsed = parseArgs(args.value);
    if (!parsed.ok) {
      show(updateMessage, parsed.message);
      return;
    }
    const templateText = template.value;
    const argsText = args.value;
    const changesTemplate = ref.kind === 'user' && saved !== null && templateText !== saved.template;
    writing = true;
    const result = await writeSession(
      ref,
      { args: parsed.args, template: changesTemplate ? templateText : undefined },
      etag,
      currentLogin(),
    ).finally(() => {
      writing = false;
    });
    if (result.ok) {
      hideConflict();
      saved = { template: templateText, argsText, args: parsed.args, etag: result.etag, expiresAt: saved?.expiresAt ?? null };
      show(updateMessage, 'Updated: every open image now shows the new frame.', 'ok');
    } else if (result.status === 412) {
      showConflict();
    } else {
      // Deleted or expired since the page opened: there is nothing left to write to.
      if (result.status === 404) ended = true;
      show(updateMessage, explain(result.status, result.error));
    }
    renderLoginState();
    refreshPermission();
    settleDeferred();
  };

  update.addEventListener('click', () => void save(saved?.etag ?? null));

  required('#conflict-reload').addEventListener('click', () => {
    void (async () => {
      if (!(await load(true))) return;
      hideConflict();
      show(updateMessage, 'Loaded the newer version; your edits were replaced.', 'ok');
      focusOn(args);
    })();
  });
  required('#conflict-overwrite').addEventListener('click', () => {
    void (async () => {
      // Over the version that is there now, which this person has chosen to replace.
      const latest = await readSession(ref);
      if (!latest.ok) {
        show(updateMessage, explain(latest.status, latest.error));
        return;
      }
      await save(latest.session.etag);
      if (conflict.hidden) focusOn(update);
    })();
  });

  required('#extend').addEventListener('click', () => {
    void (async () => {
      const seconds = Number(required('#extend-seconds', HTMLSelectElement).value);
      // The arguments are sent again as the service holds them (never the editor's unsaved text), over
      // exactly that version: a write that lands in between makes it a 412, and it is tried again.
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const latest = await readSession(ref);
        if (!latest.ok) {
          show(manageMessage, explain(latest.status, latest.error));
          return;
        }
        writing = true;
        const result = await writeSession(
          ref,
          { args: latest.session.args, expireSeconds: seconds },
          latest.session.etag,
          currentLogin(),
        ).finally(() => {
          writing = false;
        });
        // This page's own write: an editor that was up to date stays so, unsaved edits and all.
        if (result.ok && saved && saved.etag === latest.session.etag) saved.etag = result.etag;
        settleDeferred();
        if (result.ok) {
          const reread = await readSession(ref);
          if (saved && reread.ok) saved.expiresAt = reread.session.expiresAt;
          showLifetime();
          show(manageMessage, `Extended. ${required('#expires').textContent}`, 'ok');
          return;
        }
        if (result.status !== 412) {
          show(manageMessage, explain(result.status, result.error));
          renderLoginState();
          refreshPermission();
          return;
        }
      }
      show(manageMessage, 'The session kept changing while extending it; try again.');
    })();
  });

  required('#delete').addEventListener('click', () => {
    deleteConfirm.hidden = false;
    focusOn(required('#delete-no'));
  });
  required('#delete-no').addEventListener('click', () => {
    deleteConfirm.hidden = true;
    focusOn(required('#delete'));
  });
  required('#delete-yes').addEventListener('click', () => {
    void (async () => {
      if (ref.kind !== 'user') return;
      const result = await deleteSession(ref, currentLogin());
      if (result.ok) {
        window.location.assign(`/?deleted=${encodeURIComponent(`${ref.userId}/${ref.sessionId}`)}`);
        return;
      }
      show(manageMessage, explain(result.status, result.error));
      renderLoginState();
      refreshPermission();
    })();
  });

  wireCopyButtons($('#embed-message'));
  wireLogin(() => {
    refreshPermission();
    focusOn(mayWrite() ? args : required('#edit-heading'));
  }, refreshPermission);

  /*
   * The live image and the data feed each hold a connection for as long as
   * the page is open, so they start only after this script and its first read
   * (SPEC section 7). Over HTTP/2 they share one connection with everything
   * else, and the image is the stream itself. Over HTTP/1.1 (6 connections per
   * host in a browser) one tab would hold two, so the feed alone is held and
   * the image is the current frame, fetched again on each update the feed
   * announces: a tab of the UI costs one connection, as one live image does.
   */
  const streamUrl = live.dataset.stream ?? `/stream/${pathOf(ref)}`;
  const frameUrl = live.dataset.frame ?? `/frame/${pathOf(ref)}`;
  const navigation = performance.getEntriesByType('navigation')[0];
  const multiplexed = navigation instanceof PerformanceNavigationTiming && ['h2', 'h3'].includes(navigation.nextHopProtocol);
  let imageFollowsFeed = !multiplexed;
  const showFrame = (etag: string | null) => {
    if (imageFollowsFeed) live.src = etag ? `${frameUrl}?v=${encodeURIComponent(etag)}` : frameUrl;
  };
  const imageSettled = () =>
    new Promise<void>((resolve) => {
      if (live.complete) resolve();
      live.addEventListener('load', () => resolve(), { once: true });
      live.addEventListener('error', () => resolve(), { once: true });
    });

  /** A write by anyone, this page included, as the feed tells it. */
  const onRemoteUpdate = (update: FeedUpdate) => {
    // Says the page is following its session (tests and styles can tell).
    root.dataset.feed = 'live';
    if (writing) {
      // This page's own write may be under way: decide once its answer (and new ETag) is known.
      deferred = update;
      return;
    }
    showFrame(update.etag);
    if (!saved) return;
    saved.expiresAt = update.expires_at;
    showLifetime();
    if (update.etag === saved.etag) return;
    if (dirty()) {
      // saved.etag stays the version these edits started from, so Update answers 412 and asks.
      show(updateMessage, 'Someone else has just updated this session. Your edits are kept; Update will ask before replacing theirs.');
      return;
    }
    const argsText = formatArgs(update.args);
    const changed = argsText !== saved.argsText;
    saved = { ...saved, args: update.args, argsText, etag: update.etag };
    args.value = argsText;
    preview.schedule();
    if (changed) show(updateMessage, 'Updated elsewhere: the editor shows the newest arguments.', 'ok');
    // The feed carries the args only; a user session's template may have changed too.
    if (ref.kind === 'user') void load(false);
  };
  function settleDeferred(): void {
    const update = deferred;
    deferred = null;
    if (update) onRemoteUpdate(update);
  }
  // A function, not the IIFE below reading `saved`: the compiler would take the IIFE's view of it (still null).
  const savedEtag = (): string | null => saved?.etag ?? null;

  void (async () => {
    await load(true);
    if (!imageFollowsFeed) {
      live.src = streamUrl;
    } else {
      showFrame(savedEtag());
      await imageSettled();
    }
    const end = (reason: 'deleted' | 'expired' | 'gone' | null) => {
      ended = true;
      root.dataset.feed = 'ended';
      refreshPermission();
      const why = reason === 'expired' ? 'has expired' : reason === 'deleted' ? 'was deleted' : 'no longer exists';
      show(updateMessage, `This session ${why}. Its images no longer update.`);
    };
    followSession(pathOf(ref), {
      update: onRemoteUpdate,
      end,
      unavailable: () => {
        void (async () => {
          // EventSource does not say why it was refused: a session that is gone is a 404 here too.
          const check = await readSession(ref);
          if (!check.ok && check.status === 404) {
            end(null);
            return;
          }
          // No feed from this server: the image at least stays live on its own.
          imageFollowsFeed = false;
          live.src = streamUrl;
        })();
      },
    });
  })();
}
