// Small behaviours without inline scripts (a strict Content-Security-Policy stays possible).
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.matches && target.matches("[data-autosubmit]") && target.form) {
    target.form.requestSubmit();
  }
});

// Patient search: arrow keys move through the results, Enter chooses one.
document.addEventListener("keydown", (event) => {
  const input = event.target;
  if (!input.matches || !input.matches("[data-listbox]")) return;
  const list = document.getElementById(input.dataset.listbox);
  if (!list) return;
  const options = Array.from(list.querySelectorAll("[role=option]"));
  if (!options.length) return;
  let index = options.findIndex((option) => option.getAttribute("aria-selected") === "true");
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    index = event.key === "ArrowDown" ? Math.min(index + 1, options.length - 1) : Math.max(index - 1, 0);
    options.forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
    input.setAttribute("aria-activedescendant", options[index].id);
    options[index].scrollIntoView({ block: "nearest" });
  } else if (event.key === "Enter" && index >= 0) {
    event.preventDefault();
    options[index].click();
  }
});

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
