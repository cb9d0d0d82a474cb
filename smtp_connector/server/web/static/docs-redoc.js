// Starts ReDoc on /redoc (the page allows no inline script); its bundle comes from this
// origin (`/docs/assets/`) and no web font is fetched.
const root = document.getElementById("redoc");
window.Redoc.init(root.dataset.openapi, { hideDownloadButton: false }, root);
