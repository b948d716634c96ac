// Every page: on a narrow screen the section navigation and the wallet fold behind two header
// buttons (the CSS shows them below 40rem). Without this script both stay open.
(() => {
  const toggles = document.querySelectorAll("[data-toggle]");
  toggles.forEach((button) => {
    const target = document.getElementById(button.dataset.toggle);
    if (!target) return;
    button.hidden = false;
    target.classList.add("folds");
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      toggles.forEach((other) => {
        if (other === button) return;
        other.setAttribute("aria-expanded", "false");
        document.getElementById(other.dataset.toggle)?.classList.remove("open");
      });
      button.setAttribute("aria-expanded", String(open));
      target.classList.toggle("open", open);
    });
  });
})();

// A button with data-confirm asks before it acts: the first click turns it into its confirmation
// ("Confirm: pay 0.02 ETH"), the second goes ahead; a click anywhere else puts it back.
(() => {
  function disarm(except) {
    document.querySelectorAll("[data-confirm][data-armed]").forEach((button) => {
      if (except && button === except) return;
      delete button.dataset.armed;
      button.textContent = button.dataset.label;
      button.classList.remove("confirming");
    });
  }
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target.closest("button[data-confirm]");
      disarm(button);
      if (!button || button.disabled) return;
      if (button.dataset.armed) {
        // The confirming click goes through; the button asks again next time (after a failure too).
        setTimeout(() => disarm(null), 0);
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      button.dataset.armed = "1";
      button.dataset.label = button.textContent;
      button.textContent = button.dataset.confirm;
      button.classList.add("confirming");
    },
    true,
  );
})();
