import { api, attempt, authHeader, clearLogin, currentLogin, explain, parseArgs, saveLogin } from './api.js';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector);

function show(target: HTMLElement | null, message: string, kind: 'error' | 'ok' = 'error'): void {
  if (!target) return;
  target.textContent = message;
  target.className = `message ${kind}`;
  target.hidden = message === '';
}

function remaining(seconds: number): string {
  if (seconds >= 86_400) return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${seconds} s`;
}

function renderLoginState(): void {
  const login = currentLogin();
  const who = $('#who');
  if (who) who.textContent = login ? `Logged in as ${login.userId}` : 'Not logged in';
  for (const el of document.querySelectorAll<HTMLElement>('[data-when="logged-in"]')) el.hidden = !login;
  for (const el of document.querySelectorAll<HTMLElement>('[data-when="logged-out"]')) el.hidden = !!login;
}

function wireLogin(onChange: () => void): void {
  $('#login-form')?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const userId = (form.elements.namedItem('user_id') as HTMLInputElement).value.trim();
    const password = (form.elements.namedItem('password') as HTMLInputElement).value;
    const { data, error, response } = await attempt(() => api.POST('/api/auth/token', { body: { user_id: userId, password } }));
    if (!data) return show($('#login-message'), response?.status === 401 ? 'Wrong user id or password.' : explain(response?.status, error));
    saveLogin({ userId, token: data.token });
    form.reset();
    show($('#login-message'), '');
    onChange();
  });
  $('#logout')?.addEventListener('click', () => {
    clearLogin();
    onChange();
  });
}

async function loadSessions(append = false, cursor?: string): Promise<void> {
  const login = currentLogin();
  const list = $('#sessions');
  const more = $<HTMLButtonElement>('#more');
  if (!login || !list || !more) return;
  const { data, error, response } = await attempt(() =>
    api.GET('/api/user/{user_id}/sessions', { params: { path: { user_id: login.userId }, query: { limit: 20, cursor } }, headers: authHeader(login) }),
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

function wireCreate(): void {
  $('#create-form')?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement).value;
    const parsed = parseArgs(field('args'));
    if (!parsed.ok) return show($('#create-message'), parsed.message);
    const sessionId = field('session_id').trim();
    const expire = Number(field('expire_seconds'));
    const template = field('template');
    const login = currentLogin();
    const owned = field('kind') === 'user';
    if (owned && !login) return show($('#create-message'), 'Log in to create a session of your own.');
    const result = owned
      ? await attempt(() =>
          api.POST('/api/user/{user_id}/session', {
            params: { path: { user_id: login!.userId } },
            body: { session_id: sessionId, template, args: parsed.args, expire_seconds: expire },
            headers: authHeader(login!),
          }),
        )
      : await attempt(() => api.POST('/api/session', { body: { session_id: sessionId, template, args: parsed.args, expire_seconds: expire } }));
    if (!result.data) {
      show($('#create-message'), explain(result.response?.status, result.error as { error?: string }));
      renderLoginState();
      return;
    }
    window.location.assign(owned ? `/session/${encodeURIComponent(login!.userId)}/${encodeURIComponent(sessionId)}` : `/session/${encodeURIComponent(sessionId)}`);
  });
}

async function sessionPage(root: HTMLElement): Promise<void> {
  const owner = root.dataset.userId;
  const sessionId = root.dataset.sessionId!;
  const argsField = $<HTMLTextAreaElement>('#args')!;
  const button = $<HTMLButtonElement>('#update')!;
  const reason = $('#update-reason');

  const refreshPermission = () => {
    const login = currentLogin();
    const mayWrite = !owner || login?.userId === owner;
    button.disabled = !mayWrite;
    if (reason) reason.textContent = mayWrite ? '' : login ? `Only ${owner} can update this session; you are logged in as ${login.userId}.` : `Log in as ${owner} to update this session.`;
  };
  // Decided before any request, so the button is never briefly enabled for a non-owner.
  refreshPermission();

  const loaded = owner
    ? await attempt(() => api.GET('/api/user/{user_id}/session/{session_id}', { params: { path: { user_id: owner, session_id: sessionId } } }))
    : await attempt(() => api.GET('/api/session/{session_id}', { params: { path: { session_id: sessionId } } }));
  if (loaded.data) argsField.value = JSON.stringify(loaded.data.args, null, 2);
  else show($('#update-message'), explain(loaded.response?.status, loaded.error as { error?: string }));

  button.addEventListener('click', async () => {
    const parsed = parseArgs(argsField.value);
    if (!parsed.ok) return show($('#update-message'), parsed.message);
    const login = currentLogin();
    const result = owner
      ? await attempt(() =>
          api.PUT('/api/user/{user_id}/session/{session_id}', {
            params: { path: { user_id: owner, session_id: sessionId } },
            body: { args: parsed.args },
            headers: login ? authHeader(login) : {},
          }),
        )
      : await attempt(() => api.PUT('/api/session/{session_id}', { params: { path: { session_id: sessionId } }, body: { args: parsed.args } }));
    if (result.response?.ok) show($('#update-message'), 'Updated: every open image now shows the new frame.', 'ok');
    else show($('#update-message'), explain(result.response?.status, result.error as { error?: string }));
    renderLoginState();
    refreshPermission();
  });
  wireLogin(() => {
    renderLoginState();
    refreshPermission();
  });
}

function main(): void {
  renderLoginState();
  const session = document.querySelector<HTMLElement>('[data-page="session"]');
  if (session) {
    void sessionPage(session);
    return;
  }
  wireLogin(() => {
    renderLoginState();
    void loadSessions();
  });
  wireCreate();
  void loadSessions();
}

main();
