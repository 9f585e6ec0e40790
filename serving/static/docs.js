/* Starts Swagger UI on /docs. A file, not an inline script: the page's CSP allows none.
 *
 * Swagger UI itself comes from the fastapi-offline package's files (/docs/assets), never a
 * CDN. No online validator (validatorUrl: null) and no stored authorisation: the key typed
 * into "Authorize" stays in this page's memory.
 */
"use strict";

(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    persistAuthorization: false,
  });
})();
