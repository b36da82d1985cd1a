// Roster's GraphiQL page: every /api request needs a bearer token; paste it in the Headers
// editor. Served from /assets/roster/ so the page's CSP needs no inline script.
(function () {
  "use strict";
  const fetcher = GraphiQL.createFetcher({ url: new URL("/api", window.location.href).href });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultHeaders: JSON.stringify({ Authorization: "Bearer <token>" }, null, 2),
      defaultEditorToolsVisibility: "headers",
    }),
  );
})();
