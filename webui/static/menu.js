// The header's menu on narrow screens: collapsed behind the "Menu" button. Without this
// script the menu stays open (the stylesheet collapses it only under html.js).
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => {
  const button = document.querySelector("header.top .menu-toggle");
  const menu = document.getElementById("top-menu");
  if (!button || !menu) return;
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  });
});
