// Puppy page: each photo is a plain link to its large image; here it opens in a modal dialog
// instead. Esc or the close button closes it, Tab stays inside, and focus returns to the photo.
(function () {
  "use strict";
  var links = Array.prototype.slice.call(document.querySelectorAll("a[data-lightbox]"));
  if (!links.length || typeof HTMLDialogElement !== "function") {
    return; // the links keep working as links
  }
  var current = 0;
  var opener = null;

  var dialog = document.createElement("dialog");
  dialog.className = "lightbox";
  dialog.setAttribute("aria-labelledby", "lightbox-caption");
  var figure = document.createElement("figure");
  figure.className = "lightbox__figure";
  var image = document.createElement("img");
  image.className = "lightbox__image";
  var caption = document.createElement("figcaption");
  caption.className = "lightbox__caption";
  caption.id = "lightbox-caption";
  figure.appendChild(image);
  figure.appendChild(caption);

  function button(label, className, text) {
    var el = document.createElement("button");
    el.type = "button";
    el.className = "lightbox__button " + className;
    el.setAttribute("aria-label", label);
    el.textContent = text;
    return el;
  }

  var close = button("Close the photo", "lightbox__close", "\u00d7");
  var previous = button("Previous photo", "lightbox__previous", "\u2039");
  var next = button("Next photo", "lightbox__next", "\u203a");
  dialog.appendChild(close);
  dialog.appendChild(figure);
  if (links.length > 1) {
    var nav = document.createElement("div");
    nav.className = "lightbox__nav";
    nav.appendChild(previous);
    nav.appendChild(next);
    dialog.appendChild(nav);
  }
  document.body.appendChild(dialog);

  function show(index) {
    current = (index + links.length) % links.length;
    var link = links[current];
    var thumb = link.querySelector("img");
    var alt = thumb ? thumb.getAttribute("alt") || "" : "";
    image.src = link.getAttribute("href");
    image.alt = alt;
    caption.textContent =
      links.length > 1 ? alt + " (photo " + (current + 1) + " of " + links.length + ")" : alt;
  }

  function focusable() {
    return Array.prototype.slice.call(dialog.querySelectorAll("button"));
  }

  links.forEach(function (link, index) {
    link.addEventListener("click", function (event) {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
        return; // a new tab or window: the large image, as without JavaScript
      }
      event.preventDefault();
      opener = link;
      show(index);
      dialog.showModal();
      close.focus();
    });
  });

  close.addEventListener("click", function () {
    dialog.close();
  });
  previous.addEventListener("click", function () {
    show(current - 1);
  });
  next.addEventListener("click", function () {
    show(current + 1);
  });
  // A click on the backdrop (the dialog itself, outside its content) closes it.
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) {
      dialog.close();
    }
  });
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "ArrowLeft" && links.length > 1) {
      show(current - 1);
    } else if (event.key === "ArrowRight" && links.length > 1) {
      show(current + 1);
    } else if (event.key === "Tab") {
      // Keep Tab inside the dialog (the page behind is inert, but the browser's own UI is not).
      var items = focusable();
      var first = items[0];
      var last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  // Esc closes a modal dialog natively; however it closes, focus goes back to the photo.
  dialog.addEventListener("close", function () {
    image.removeAttribute("src");
    if (opener) {
      opener.focus();
      opener = null;
    }
  });
})();
