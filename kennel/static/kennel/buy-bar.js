// Puppy page on a phone: the sticky price + Reserve bar. Its link jumps to the reserve form (or
// this browser's own hold) and puts focus there; the bar steps aside while the form's own
// button is on screen, so it never covers it. Without JavaScript the link is a plain anchor.
(function () {
  "use strict";
  var bar = document.querySelector("[data-buy-bar]");
  if (!bar) {
    return;
  }
  var jump = bar.querySelector("[data-buy-bar-jump]");
  var target = jump && document.getElementById(jump.getAttribute("href").slice(1));
  if (jump && target) {
    jump.addEventListener("click", function (event) {
      event.preventDefault();
      if (!target.hasAttribute("tabindex")) {
        target.setAttribute("tabindex", "-1");
      }
      target.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", jump.getAttribute("href"));
      }
    });
  }
  var action = document.querySelector("[data-reserve-submit], .resume__actions");
  if (!action || !("IntersectionObserver" in window)) {
    return;
  }
  new IntersectionObserver(function (entries) {
    bar.classList.toggle("buy-bar--aside", entries[entries.length - 1].isIntersecting);
  }).observe(action);
})();
