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
