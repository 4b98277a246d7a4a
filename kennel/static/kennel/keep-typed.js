// Switching the language keeps what was typed. The footer's switch is a plain form (Django's
// set_language, POST, then back to the same page), so the page comes back in the other
// language with its forms empty. Just before that form goes, the fields of the page's other
// forms are kept in this tab's sessionStorage, by the address each form posts to; the next
// page this tab loads puts them back into the forms posting to the same address (the reserve
// form is the same form whether the page is the puppy's or the answer to a form with errors),
// once, and forgets them. Never kept: passwords, hidden fields (the CSRF token among them),
// files and buttons. Without JavaScript, or without sessionStorage, nothing changes.
(function () {
  "use strict";
  var KEY = "kennel:typed";
  var MAX_AGE_MS = 10 * 60 * 1000; // a switch reloads at once: anything older is stale
  var SKIPPED = ["hidden", "password", "file", "submit", "button", "reset", "image"];

  var storage = null;
  try {
    storage = window.sessionStorage;
    storage.getItem(KEY); // may throw when storage is blocked
  } catch (e) {
    return;
  }

  function kept(field) {
    if (!field.name || field.disabled || field.name === "csrfmiddlewaretoken") {
      return false;
    }
    var tag = field.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") {
      return true;
    }
    return tag === "input" && SKIPPED.indexOf((field.type || "text").toLowerCase()) === -1;
  }

  function checkable(field) {
    return field.type === "checkbox" || field.type === "radio";
  }

  function where(form) {
    // The path the form posts to, else the page's own (the attribute: a field named "action"
    // would shadow form.action).
    var action = form.getAttribute("action") || window.location.href;
    return new URL(action, window.location.href).pathname;
  }

  function collect(form) {
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!kept(field)) {
        return;
      }
      if (checkable(field)) {
        fields.push({ n: field.name, v: field.value, c: field.checked });
      } else if (field.tagName.toLowerCase() === "select" && field.multiple) {
        var chosen = Array.prototype.filter.call(field.options, function (option) {
          return option.selected;
        });
        fields.push({ n: field.name, m: chosen.map(function (option) { return option.value; }) });
      } else {
        fields.push({ n: field.name, v: field.value });
      }
    });
    return fields;
  }

  function restore(form, fields) {
    var seen = {}; // the nth text field of a name takes the nth value kept for it
    fields.forEach(function (saved) {
      var named = Array.prototype.filter.call(form.elements, function (field) {
        return field.name === saved.n && kept(field);
      });
      if ("c" in saved) {
        named.forEach(function (field) {
          if (checkable(field) && field.value === saved.v) {
            field.checked = saved.c;
          }
        });
        return;
      }
      var others = named.filter(function (field) {
        return !checkable(field);
      });
      var index = seen[saved.n] || 0;
      seen[saved.n] = index + 1;
      var field = others[index];
      if (!field) {
        return;
      }
      if (saved.m) {
        Array.prototype.forEach.call(field.options, function (option) {
          option.selected = saved.m.indexOf(option.value) !== -1;
        });
      } else if (typeof saved.v === "string") {
        field.value = saved.v;
      }
    });
  }

  // Once: whatever was kept is read and forgotten on this load, used or not.
  var raw = storage.getItem(KEY);
  if (raw) {
    storage.removeItem(KEY);
    try {
      var saved = JSON.parse(raw);
      if (saved && Date.now() - saved.at < MAX_AGE_MS && saved.forms) {
        Array.prototype.forEach.call(document.forms, function (form) {
          var fields = saved.forms[where(form)];
          if (fields && !form.classList.contains("lang-switch")) {
            restore(form, fields);
          }
        });
      }
    } catch (e) {
      // Not ours, or not JSON: forgotten already.
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.lang-switch"), function (lang) {
    lang.addEventListener("submit", function () {
      var forms = {};
      var any = false;
      Array.prototype.forEach.call(document.forms, function (form) {
        if (form === lang || form.classList.contains("lang-switch")) {
          return;
        }
        var fields = collect(form);
        if (fields.length) {
          forms[where(form)] = fields;
          any = true;
        }
      });
      if (!any) {
        return;
      }
      try {
        storage.setItem(KEY, JSON.stringify({ at: Date.now(), forms: forms }));
      } catch (e) {
        // Storage full or refused: the switch goes on as without JavaScript.
      }
    });
  });
})();
