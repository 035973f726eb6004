import { homePage } from './home.js';
import { renderLoginState } from './login.js';
import { sessionPage } from './session.js';

function main(): void {
  renderLoginState();
  const session = document.querySelector<HTMLElement>('[data-page="session"]');
  if (session) sessionPage(session);
  else if (document.querySelector('#create-form')) homePage();
}

main();
