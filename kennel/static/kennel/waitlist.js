// A family's page on a waiting list: the time left in their turn, counted down each second
// (the page says until when in words; without JavaScript that is all it shows), and while
// they wait, a fresh look at the page every so often (a <noscript> refresh does the same).
(function () {
  "use strict";

  var countdown = document.querySelector("[data-countdown]");
  if (countdown) {
    var ends = Date.parse(countdown.getAttribute("data-countdown"));
    var label = countdown.getAttribute("data-left-label") || "";
    var expired = countdown.getAttribute("data-expired-text") || "";
    var pad = function (n) {
      return (n < 10 ? "0" : "") + n;
    };
    var tick = function () {
      var left = Math.floor((ends - Date.now()) / 1000);
      if (isNaN(left)) {
        return;
      }
      if (left <= 0) {
        countdown.textContent = expired;
        return;
      }
      var h = Math.floor(left / 3600);
      var m = Math.floor((left % 3600) / 60);
      var s = left % 60;
      countdown.textContent = label + " " + h + ":" + pad(m) + ":" + pad(s);
      window.setTimeout(tick, 1000);
    };
    countdown.hidden = false;
    tick();
  }

  var page = document.querySelector("[data-refresh-seconds]");
  if (page) {
    var every = parseInt(page.getAttribute("data-refresh-seconds"), 10) * 1000;
    var look = function () {
      var active = document.activeElement;
      var busy = active && active.closest && active.closest("form");
      if (document.hidden || busy) {
        window.setTimeout(look, every);
        return;
      }
      window.location.reload();
    };
    if (every > 0) {
      window.setTimeout(look, every);
    }
  }
})();
