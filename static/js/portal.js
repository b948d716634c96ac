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
