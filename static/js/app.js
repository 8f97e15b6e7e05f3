// Small behaviours without inline scripts (a strict Content-Security-Policy stays possible).
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.matches && target.matches("[data-autosubmit]") && target.form) {
    target.form.requestSubmit();
  }
});

// Patient search: arrow keys move through the results, Enter chooses one (the only one
// found, or the one moved to). Enter never submits the search form: its first button
// would be "Register a new patient".
document.addEventListener("keydown", (event) => {
  const input = event.target;
  if (!input.matches || !input.matches("[data-listbox]")) return;
  const list = document.getElementById(input.dataset.listbox);
  if (!list) return;
  const options = Array.from(list.querySelectorAll("[role=option]"));
  let index = options.findIndex((option) => option.getAttribute("aria-selected") === "true");
  const select = (i) => {
    index = i;
    options.forEach((option, j) => option.setAttribute("aria-selected", String(j === index)));
    input.setAttribute("aria-activedescendant", options[index].id);
    options[index].scrollIntoView({ block: "nearest" });
  };
  if ((event.key === "ArrowDown" || event.key === "ArrowUp") && options.length) {
    event.preventDefault();
    select(event.key === "ArrowDown" ? Math.min(index + 1, options.length - 1) : Math.max(index - 1, 0));
  } else if (event.key === "Enter") {
    event.preventDefault();
    if (index < 0 && options.length === 1) index = 0;
    if (index >= 0) options[index].click();
    else if (options.length) select(0);
  }
});

// --- The booking page (templates/desk/book.html) ----------------------------------------------
// Steps in order, each marked data-step: patient -> who -> type -> slots (the free times) ->
// book. Enter on a choice chooses it and moves on to the next step not yet done; arrow keys
// move within the free times; the keys listed in the #shortcuts popover (data-shortcut-for)
// jump to a step, "?" shows that list. The booking bar's summary (dd[data-summary]) shows
// the text of the chosen sources (data-summary-for, data-summary-text) — words from the page.
(() => {
  const form = document.getElementById("booking");
  if (!form) return;
  const CHAIN = ["patient", "who", "type", "slots", "book"];
  const CHOICES = "#who input[type=radio], #appointment-types input[type=radio]";
  const help = document.getElementById("shortcuts");
  const keys = {};
  document.querySelectorAll("[data-shortcut-for]").forEach((kbd) => {
    keys[kbd.textContent.trim()] = kbd.dataset.shortcutFor;
  });
  let pending = null; // the step to focus once the region it lives in has been drawn

  const step = (name) => document.querySelector(`[data-step="${name}"]`);
  const busy = () => Boolean(form.querySelector(".htmx-request"));
  const done = {
    patient: () => Boolean(document.querySelector('#patient-box input[name="patient"]')),
    who: () => Boolean(document.querySelector("#who input:checked")),
    type: () => Boolean(document.querySelector("#appointment-types input:checked")),
    slots: () => Boolean(document.querySelector('#options input[name="start"]')),
    book: () => false,
  };

  const focusStep = (name) => {
    const element = step(name);
    if (!element) return;
    if (element.tagName === "FIELDSET") {
      const radio = element.querySelector("input:checked") || element.querySelector("input");
      if (radio) radio.focus();
    } else if (name === "slots") {
      const slot = element.querySelector('.slot[aria-pressed="true"]') || element.querySelector(".slot");
      if (slot) slot.focus();
      else if (busy()) pending = "slots";
      else element.focus();
    } else {
      element.focus();
    }
  };
  const advance = (from) => {
    const next = CHAIN.slice(CHAIN.indexOf(from) + 1).find((name) => !done[name]());
    focusStep(next || "book");
  };

  const refreshSummary = () => {
    const video = document.querySelector('#options input[name="modality"][value="video"]:checked');
    document.querySelectorAll("[data-summary]").forEach((item) => {
      let text = "";
      // The last source in the page wins: the chosen time's practitioner over the one asked.
      document.querySelectorAll(`[data-summary-for="${item.dataset.summary}"]`).forEach((source) => {
        if (source.type !== "radio" || source.checked) text = source.dataset.summaryText || text;
      });
      if (item.dataset.summary === "room" && video) text = "";
      item.textContent = text || item.dataset.empty || "";
    });
  };

  // One tab stop in the free times (the chosen one, else the first); arrows move from it.
  const rove = () => {
    const slots = Array.from(document.querySelectorAll("#slots .slot"));
    const current = slots.find((slot) => slot.getAttribute("aria-pressed") === "true") || slots[0];
    slots.forEach((slot) => slot.setAttribute("tabindex", slot === current ? "0" : "-1"));
  };

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (!target.matches) return;
    if (event.key === "Enter" && target.matches(CHOICES)) {
      event.preventDefault();
      if (!target.checked) {
        target.checked = true;
        target.dispatchEvent(new Event("change", { bubbles: true }));
      }
      advance(target.closest("[data-step]").dataset.step);
    } else if (event.key === "Enter" && target.matches('[data-step="date"]')) {
      event.preventDefault(); // not a booking: the free times of that day
      focusStep("slots");
    } else if (target.matches("#slots .slot")) {
      const slots = Array.from(document.querySelectorAll("#slots .slot"));
      const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
      let index = slots.indexOf(target);
      if (event.key in moves) index = Math.min(Math.max(index + moves[event.key], 0), slots.length - 1);
      else if (event.key === "Home") index = 0;
      else if (event.key === "End") index = slots.length - 1;
      else if (event.key === " ") {
        event.preventDefault();
        target.click();
        return;
      } else return;
      event.preventDefault();
      slots.forEach((slot, i) => slot.setAttribute("tabindex", i === index ? "0" : "-1"));
      slots[index].focus();
    }
  });

  // Shortcuts, when the cursor is not in a text box (letters would be typed there).
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    const typing = target.matches && target.matches(
      "input:not([type=radio]):not([type=checkbox]):not([type=button]):not([type=submit]), textarea, select, [contenteditable]"
    );
    if (typing) return;
    if (event.key === "?" && help) {
      event.preventDefault();
      help.togglePopover();
    } else if (keys[event.key]) {
      event.preventDefault();
      if (help && help.matches(":popover-open")) help.hidePopover();
      focusStep(keys[event.key]);
    }
  });

  document.addEventListener("click", (event) => {
    const slot = event.target.closest && event.target.closest("#slots .slot");
    if (!slot) return;
    document.querySelectorAll('#slots .slot[aria-pressed="true"]').forEach((other) => {
      other.setAttribute("aria-pressed", "false");
    });
    slot.setAttribute("aria-pressed", "true");
    rove();
    pending = "book";
  });

  document.addEventListener("change", refreshSummary);
  document.addEventListener("htmx:oobAfterSwap", () => {
    refreshSummary();
    rove();
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    const region = event.detail.target;
    refreshSummary();
    if (!region) return;
    if (region.id === "slots" || region.querySelector("#slots .slot")) rove();
    if (region.id === "patient-box" && done.patient()) {
      advance("patient");
    } else if (region.id === "slots" && pending === "slots") {
      pending = null;
      focusStep("slots");
    } else if (region.id === "options") {
      const alternative = region.querySelector(".alternatives .slot");
      if (alternative) alternative.focus();
      else if (pending === "book" && done.slots()) focusStep("book");
      pending = null;
    } else if (region.id === "booking-area") {
      const booked = document.getElementById("booked");
      if (booked) booked.focus();
    }
  });

  rove();
  refreshSummary();
  // A page opened with the patient chosen (e.g. "Book another for this patient") starts at
  // the next step; the patient search has its autofocus.
  if (document.activeElement === document.body && done.patient() && !document.getElementById("booked")) {
    advance("patient");
  }
})();

// --- Idle sign-out warning (scheduling/sessions.py) ------------------------------------------
// Signed-in pages carry <body data-idle-seconds data-idle-warning-seconds data-idle-url>.
// A minute before the session would end for inactivity, <dialog id="idle-warning"> opens;
// its "Stay signed in" form posts to data-idle-url. The server's clock is the truth: before
// warning and before leaving, the page asks data-idle-url how many seconds are left, as a
// background request (X-Background-Request), which the server does not count as activity.
// htmx polls (requests no user event triggered) are marked the same way.
(() => {
  const BACKGROUND = "X-Background-Request";
  // The server records activity at most once a minute: ask that much earlier.
  const SLACK_SECONDS = 60;
  const body = document.body;
  const idleSeconds = Number(body.dataset.idleSeconds);

  document.addEventListener("htmx:configRequest", (event) => {
    if (!event.detail.triggeringEvent) event.detail.headers[BACKGROUND] = "true";
  });
  if (!idleSeconds) return;

  const warningSeconds = Number(body.dataset.idleWarningSeconds) || 60;
  const url = body.dataset.idleUrl;
  const dialog = document.getElementById("idle-warning");
  let timer = null;

  const later = (seconds, then) => {
    clearTimeout(timer);
    timer = setTimeout(then, Math.max(0, seconds) * 1000);
  };
  const warn = (on) => {
    if (!dialog) return;
    if (on && !dialog.open) dialog.showModal();
    if (!on && dialog.open) dialog.close();
  };
  const check = async () => {
    let left;
    try {
      const response = await fetch(url, {
        headers: { [BACKGROUND]: "true", Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      left = response.ok ? Number((await response.json()).seconds_left) : 0;
    } catch {
      later(30, check); // the server did not answer: ask again soon
      return;
    }
    if (left <= 0) {
      window.location.reload(); // signed out: the page sends us to sign in, saying why
    } else if (left > warningSeconds) {
      warn(false);
      later(left - warningSeconds, check);
    } else {
      warn(true);
      later(left, check);
    }
  };
  const active = () => {
    warn(false);
    later(idleSeconds - warningSeconds - SLACK_SECONDS, check);
  };

  document.addEventListener("htmx:afterRequest", (event) => {
    const config = event.detail.requestConfig;
    if (event.detail.successful && !(config && config.headers && config.headers[BACKGROUND])) {
      active();
    }
  });
  active();
})();
