"use strict";
// Starts Swagger UI on the document named by the page's `data-spec`. A
// file of its own, not an inline script, so the page's CSP allows scripts
// from the application only.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    validatorUrl: null,
  });
});
