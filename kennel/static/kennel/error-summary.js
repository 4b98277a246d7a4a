// After a failed submit, move focus to the error summary (an alert region), so keyboard and
// screen reader users start from the list of what to fix. Without JavaScript it is read as
// an alert all the same.
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
