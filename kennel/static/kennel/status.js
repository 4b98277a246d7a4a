// Buyer's status page: while the payment is open, ask the API for the status every 2 s and
// reload the page when it changes. Without JavaScript, a <noscript> refresh does the same.
(function () {
  "use strict";
  var el = document.querySelector("[data-status-url]");
  if (!el || !window.fetch) {
    return;
  }
  var url = el.getAttribute("data-status-url");
  var current = el.getAttribute("data-status");
  if (current !== "pending" && current !== "processing") {
    return;
  }
  var started = Date.now();

  function delay() {
    // Every 2 s for the first 10 minutes, then gently every 15 s.
    return Date.now() - started < 600000 ? 2000 : 15000;
  }

  function schedule() {
    window.setTimeout(poll, delay());
  }

  function poll() {
    if (document.hidden) {
      schedule();
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && typeof data.status === "string" && data.status !== current) {
          window.location.reload();
          return;
        }
        schedule();
      })
      .catch(schedule);
  }

  schedule();
})();
