// Renders the live contract; kept out of the page so the page needs no inline script.
const target = document.getElementById('reference');
window.SwaggerUIBundle({ url: target.dataset.specUrl, domNode: target, deepLinking: true });
