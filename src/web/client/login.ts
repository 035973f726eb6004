import { api, attempt, clearLogin, currentLogin, explain, saveLogin } from './api.js';
import { $, focusOn, required, show } from './dom.js';

export function renderLoginState(): void {
  const login = currentLogin();
  const who = $('#who');
  if (who) who.textContent = login ? `Logged in as ${login.userId}` : 'Not logged in';
  for (const el of document.querySelectorAll<HTMLElement>('[data-when="logged-in"]')) el.hidden = !login;
  for (const el of document.querySelectorAll<HTMLElement>('[data-when="logged-out"]')) el.hidden = !!login;
}

/**
 * The login form and the header's Log out button. After logging in, `onLogin`
 * moves focus to what the person can now do (the form they used is gone);
 * after logging out, focus goes to the login form's first field.
 */
export function wireLogin(onLogin: () => void, onLogout: () => void = () => undefined): void {
  const form = $('#login-form', HTMLFormElement);
  form?.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const userId = required('[name=user_id]', HTMLInputElement, form).value.trim();
      const password = required('[name=password]', HTMLInputElement, form).value;
      show($('#login-message'), 'Logging in…', 'ok');
      const { data, error, response } = await attempt(() => api.POST('/api/auth/token', { body: { user_id: userId, password } }));
      if (!data) {
        show($('#login-message'), response?.status === 401 ? 'Wrong user id or password.' : explain(response?.status, error));
        return;
      }
      saveLogin({ userId, token: data.token });
      form.reset();
      show($('#login-message'), '');
      renderLoginState();
      onLogin();
    })();
  });
  $('#logout')?.addEventListener('click', () => {
    clearLogin();
    renderLoginState();
    onLogout();
    focusOn($('#login-form input[name=user_id]', HTMLInputElement));
  });
}
