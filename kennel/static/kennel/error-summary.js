// After a failed submit, move focus to the error summary (an alert region), so keyboard and
// screen reader users start from the list of what to fix. Without JavaScript it is read as
// an alert all the same.
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    // The page is a POST's answer: make its history entry the puppy's page, so Back from the
    // payment page (after the buyer fixed the form and paid) reloads that page with a GET
    // instead of Chrome's "Confirm Form Resubmission".
    var canonical = document.querySelector('link[rel="canonical"]');
    if (canonical && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", new URL(canonical.href).pathname);
    }
  }
})();
