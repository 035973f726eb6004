// Renders the live contract; kept out of the page so the page needs no inline script.
const target = document.getElementById('reference');
window.SwaggerUIBundle({
  url: target.dataset.specUrl,
  domNode: target,
  // With deep linking on, swagger-ui puts each operation's path in a link
  // inside the button that expands it: a link nested in a button, which
  // keyboard and screen-reader users cannot reach (axe: nested-interactive).
  deepLinking: false,
  // The default badge loads an image from validator.swagger.io, sending it our
  // contract's URL; the page's CSP (img-src 'self') would block it anyway.
  validatorUrl: null,
});

// What swagger-ui renders without a name, named whenever it (re)renders it,
// since it has no option for either:
// - its server <select> sits in a <label> with no text (axe: select-name);
// - its operations are a <main>, but the contract's introduction and the
//   server choice above it are in no landmark (axe: region), so screen-reader
//   users navigating by landmark skip them. Each becomes a named region.
const NAMES = [
  ['select#servers', 'Server', null],
  ['.information-container', 'About this API', 'region'],
  ['.schemes-server-container', 'Servers', 'region'],
];
function nameUnnamed() {
  for (const [selector, name, role] of NAMES) {
    const element = target.querySelector(selector);
    if (!element || element.hasAttribute('aria-label')) continue;
    if (role) element.setAttribute('role', role);
    element.setAttribute('aria-label', name);
  }
}
new window.MutationObserver(nameUnnamed).observe(target, { childList: true, subtree: true });
