// The day calendar and the week (templates/desk/day.html, week.html): booking from a free
// time, moving an appointment by dragging it (a drop asks for confirmation) or with its
// "Move…" dialog. The server does the rest (scheduling/views/calendar.py): this file only
// fills in and opens forms the page already holds, and holds no words of its own — what it
// shows comes from the page, rendered in the user's language.
(() => {
  const UNIT_MINUTES = 5; // one grid row (scheduling/calendar_layout.py)

  const calendar = () => document.getElementById("calendar");
  const closest = (node, selector) => (node && node.closest ? node.closest(selector) : null);

  // --- Free times: one tab stop; the arrow keys move between them, Enter books -------------

  function setUp() {
    const root = calendar();
    if (!root) return;
    const cells = root.querySelectorAll(".cal-free");
    cells.forEach((cell, index) => cell.setAttribute("tabindex", index === 0 ? "0" : "-1"));
    root.querySelectorAll("[data-without-script]").forEach((element) => {
      element.hidden = true;
    });
  }

  function cellsOf(body) {
    return Array.from(body.querySelectorAll(".cal-free"));
  }

  function nearest(cells, minute) {
    let best = cells[0];
    for (const cell of cells) {
      if (Math.abs(Number(cell.dataset.cell) - minute) < Math.abs(Number(best.dataset.cell) - minute)) {
        best = cell;
      }
    }
    return best;
  }

  function cellFrom(cell, key) {
    const body = closest(cell, ".cal-body");
    const cells = cellsOf(body);
    const index = cells.indexOf(cell);
    if (key === "ArrowUp") return cells[index - 1];
    if (key === "ArrowDown") return cells[index + 1];
    if (key === "Home") return cells[0];
    if (key === "End") return cells[cells.length - 1];
    const bodies = Array.from(calendar().querySelectorAll(".cal-body[data-day]"));
    const step = key === "ArrowLeft" ? -1 : 1;
    for (let other = bodies.indexOf(body) + step; other >= 0 && other < bodies.length; other += step) {
      const there = cellsOf(bodies[other]);
      if (there.length) return nearest(there, Number(cell.dataset.cell));
    }
    return null;
  }

  const MOVES = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End"];
  document.addEventListener("keydown", (event) => {
    const cell = closest(event.target, "#calendar .cal-free");
    if (!cell || !MOVES.includes(event.key)) return;
    event.preventDefault();
    const target = cellFrom(cell, event.key);
    if (!target) return;
    cell.setAttribute("tabindex", "-1");
    target.setAttribute("tabindex", "0");
    target.focus();
  });

  document.addEventListener("focusin", (event) => {
    const cell = closest(event.target, "#calendar .cal-free");
    if (!cell) return;
    calendar().querySelectorAll(".cal-free[tabindex='0']").forEach((other) => {
      if (other !== cell) other.setAttribute("tabindex", "-1");
    });
    cell.setAttribute("tabindex", "0");
  });

  // "Show cancelled and no-show": the calendar redraws as soon as it changes.
  document.addEventListener("change", (event) => {
    const box = closest(event.target, "#calendar [data-calendar-toggle]");
    if (box && box.form) box.form.requestSubmit();
  });

  // --- Dialogs ------------------------------------------------------------------------------

  let indicator = null;

  function clearIndicator() {
    if (indicator) indicator.remove();
    indicator = null;
  }

  document.addEventListener("click", (event) => {
    const closer = closest(event.target, "[data-dialog-close]");
    const dialog = closest(closer, "dialog");
    if (dialog) dialog.close();
  });

  // A dialog's form was sent (htmx posts it and redraws the calendar): close the dialog.
  document.addEventListener("submit", (event) => {
    const dialog = closest(event.target, "#calendar dialog");
    if (dialog) setTimeout(() => dialog.open && dialog.close(), 0);
  });

  document.addEventListener(
    "close",
    (event) => {
      if (event.target.id === "cal-drop-dialog") clearIndicator();
    },
    true,
  );

  // The "Move…" form arrived in its dialog: open it, on the new date and time.
  document.addEventListener("htmx:afterSwap", (event) => {
    const dialog = event.detail && event.detail.target;
    if (!dialog || dialog.id !== "cal-move-dialog") return;
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector("[autofocus]") || dialog.querySelector("input, select, button");
    if (first) first.focus();
  });

  // The calendar was drawn again (another day, a move…): its free times, and the news of a
  // move (moved, or why not) in focus. The delivery poller's swaps leave the focus alone.
  document.addEventListener("htmx:afterSettle", (event) => {
    setUp();
    if (event.target.id !== "calendar") return;
    const notice = event.target.querySelector(".notice[autofocus]");
    if (notice) notice.focus();
  });

  // --- Drag and drop --------------------------------------------------------------------------

  let dragged = null; // {card, offset}: the card being dragged, and where it was grabbed

  function timeLabel(minute) {
    const lang = document.documentElement.lang || undefined;
    const moment = new Date(Date.UTC(2000, 0, 1, Math.floor(minute / 60), minute % 60));
    return new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit", timeZone: "UTC" }).format(moment);
  }

  function hhmm(minute) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`;
  }

  // The start a drop at clientY names: the card's top edge, on the column's step.
  function minuteAt(body, clientY) {
    const grid = closest(body, ".cal-grid");
    const first = Number(grid.dataset.firstMinute);
    const rows = Number(grid.dataset.rows);
    const step = Number(body.dataset.step) || 15;
    const rect = body.getBoundingClientRect();
    const rowHeight = rect.height / rows;
    const top = clientY - rect.top - dragged.offset;
    const minute = first + Math.round(((top / rowHeight) * UNIT_MINUTES) / step) * step;
    const last = first + rows * UNIT_MINUTES - step;
    return Math.max(first, Math.min(minute, last));
  }

  function showIndicator(body, minute) {
    const grid = closest(body, ".cal-grid");
    const first = Number(grid.dataset.firstMinute);
    const rows = Number(grid.dataset.rows);
    const row = (minute - first) / UNIT_MINUTES + 1;
    const span = Math.max(1, Math.min(Math.ceil(Number(dragged.card.dataset.minutes) / UNIT_MINUTES), rows - row + 1));
    if (!indicator) {
      indicator = document.createElement("div");
      indicator.setAttribute("aria-hidden", "true");
    }
    indicator.className = `cal-drop at-${row} span-${span}`;
    if (indicator.parentNode !== body) body.appendChild(indicator);
  }

  function endDrag() {
    if (dragged) dragged.card.classList.remove("is-dragged");
    const root = calendar();
    if (root) root.classList.remove("cal-dragging");
    dragged = null;
  }

  document.addEventListener("dragstart", (event) => {
    const card = closest(event.target, "#calendar .appt[draggable='true']");
    if (!card) return;
    dragged = { card, offset: event.clientY - card.getBoundingClientRect().top };
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.appointment);
    card.classList.add("is-dragged");
    calendar().classList.add("cal-dragging");
  });

  document.addEventListener("dragover", (event) => {
    const body = dragged && closest(event.target, "#calendar .cal-body[data-day]");
    if (!body) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    showIndicator(body, minuteAt(body, event.clientY));
  });

  document.addEventListener("drop", (event) => {
    const body = dragged && closest(event.target, "#calendar .cal-body[data-day]");
    if (!body) return;
    event.preventDefault();
    const card = dragged.card;
    const minute = minuteAt(body, event.clientY);
    showIndicator(body, minute);
    endDrag();
    confirmMove(card, body, minute);
  });

  document.addEventListener("dragend", () => {
    const dialog = document.getElementById("cal-drop-dialog");
    if (!dialog || !dialog.open) clearIndicator();
    endDrag();
  });

  function fill(form, name, value) {
    form.elements[name].value = value;
  }

  function confirmMove(card, body, minute) {
    const dialog = document.getElementById("cal-drop-dialog");
    const start = `${body.dataset.day}T${hhmm(minute)}`;
    const from = closest(card, ".cal-body");
    if (from === body && card.dataset.start === start) {
      clearIndicator(); // dropped where it was: nothing to move
      return;
    }
    const form = dialog.querySelector("form");
    fill(form, "appointment", card.dataset.appointment);
    fill(form, "start", start);
    fill(form, "room", body.dataset.room || "");
    fill(form, "practitioner", body.dataset.practitioner || "");
    fill(form, "modality", body.dataset.modality || "");
    const text = (selector) => (card.querySelector(selector) || {}).textContent || "";
    dialog.querySelector("[data-fill='patient']").textContent = text(".appt-patient").trim();
    dialog.querySelector("[data-fill='from']").textContent = `${text(".appt-time").trim()} · ${from.dataset.title}`;
    dialog.querySelector("[data-fill='to']").textContent = `${timeLabel(minute)} · ${body.dataset.title}`;
    dialog.showModal();
    dialog.querySelector("button[type='submit']").focus();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
