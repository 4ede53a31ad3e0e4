// Swagger UI over the master's OpenAPI document (kept out of the page: no inline script).
window.addEventListener("DOMContentLoaded", () => {
  // validatorUrl null: the validator badge would send the document to validator.swagger.io.
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
