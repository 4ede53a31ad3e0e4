// ReDoc over the master's OpenAPI document (kept out of the page: no inline script).
window.addEventListener("DOMContentLoaded", () => {
  window.Redoc.init("/openapi.json", {}, document.getElementById("redoc"));
});
