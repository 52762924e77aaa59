/* /docs: start Swagger UI on this server's OpenAPI document (was an inline script). */
(function () {
  "use strict";
  window.ui = window.SwaggerUIBundle({
    url: document.getElementById("swagger-ui").dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The page is served from this very server: the session cookie goes along.
    withCredentials: true,
    // No badge fetched from validator.swagger.io (the CSP allows this server only).
    validatorUrl: null,
  });
})();
