import { api, attempt, authHeader, currentLogin, explain, parseArgs } from './api.js';
import { $, focusOn, remaining, required, show } from './dom.js';
import { renderLoginState, wireLogin } from './login.js';
import { Preview } from './preview.js';

async function loadSessions(append = false, cursor?: string): Promise<void> {
  const login = currentLogin();
  const list = $('#sessions');
  const more = $('#more', HTMLButtonElement);
  if (!login || !list || !more) return;
  const { data, error, response } = await attempt(() =>
    api.GET('/api/user/{user_id}/sessions', {
      params: { path: { user_id: login.userId }, query: { limit: 20, cursor } },
      headers: authHeader(login),
    }),
  );
  if (!data) {
    show($('#sessions-message'), explain(response?.status, error));
    renderLoginState();
    return;
  }
  if (!append) list.replaceChildren();
  for (const s of data.sessions) {
    const row = document.createElement('tr');
    const link = document.createElement('a');
    link.href = `/session/${encodeURIComponent(login.userId)}/${encodeURIComponent(s.session_id)}`;
    link.textContent = s.session_id;
    const cells = [link, new Date(s.created_at).toLocaleString(), remaining(s.ttl)];
    for (const content of cells) {
      const cell = document.createElement('td');
      cell.append(content);
      row.append(cell);
    }
    list.append(row);
  }
  show($('#sessions-message'), list.children.length === 0 ? 'No sessions yet.' : '', 'ok');
  more.hidden = data.next_cursor === null;
  more.onclick = () => void loadSessions(true, data.next_cursor ?? undefined);
}

function wireCreate(form: HTMLFormElement): void {
  const field = (name: string) => {
    const item = form.elements.namedItem(name);
    return item instanceof RadioNodeList || item instanceof HTMLInputElement || item instanceof HTMLTextAreaElement ? item.value : '';
  };
  const preview = new Preview(required('#create-preview'), () => ({ template: field('template'), args: field('args') }));
  for (const name of ['template', 'args']) form.querySelector(`[name=${name}]`)?.addEventListener('input', () => preview.schedule());
  preview.schedule();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const message = $('#create-message');
      const parsed = parseArgs(field('args'));
      if (!parsed.ok) {
        show(message, parsed.message);
        return;
      }
      const sessionId = field('session_id').trim();
      const expire = Number(field('expire_seconds'));
      const template = field('template');
      const login = currentLogin();
      const kind = field('kind');
      if (kind === 'user' && !login) {
        show(message, 'Log in to create a session of your own.');
        return;
      }
      const result =
        kind === 'user' && login
          ? await attempt(() =>
              api.POST('/api/user/{user_id}/session', {
                params: { path: { user_id: login.userId } },
                body: { session_id: sessionId, template, args: parsed.args, expire_seconds: expire },
                headers: authHeader(login),
              }),
            )
          : await attempt(() =>
              api.POST('/api/session', { body: { session_id: sessionId, template, args: parsed.args, expire_seconds: expire } }),
            );
      if (!result.data) {
        show(message, explain(result.response?.status, result.error));
        renderLoginState();
        return;
      }
      window.location.assign(
        kind === 'user' && login
          ? `/session/${encodeURIComponent(login.userId)}/${encodeURIComponent(sessionId)}`
          : `/session/${encodeURIComponent(sessionId)}`,
      );
    })();
  });
}

export function homePage(): void {
  // The session page sends a person here after deleting a session, and says so here.
  const deleted = new URLSearchParams(window.location.search).get('deleted');
  if (deleted) show($('#page-message'), `Deleted session ${deleted}.`, 'ok');
  wireLogin(
    () => {
      void loadSessions();
      focusOn($('#sessions-heading'));
    },
    () => $('#sessions')?.replaceChildren(),
  );
  const form = $('#create-form', HTMLFormElement);
  if (form) wireCreate(form);
  void loadSessions();
}
