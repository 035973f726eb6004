// Renders the live contract; kept out of the page so the page needs no inline script.
const target = document.getElementById('reference');
window.SwaggerUIBundle({
  url: target.dataset.specUrl,
  domNode: target,
  deepLinking: true,
  // The default badge loads an image from validator.swagger.io, sending it our
  // contract's URL; the page's CSP (img-src 'self') would block it anyway.
  validatorUrl: null,
});
