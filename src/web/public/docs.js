// Renders the live contract; kept out of the page so the page needs no inline script.
window.SwaggerUIBundle({ url: '/openapi.json', dom_id: '#reference', deepLinking: true });
