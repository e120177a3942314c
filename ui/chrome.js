// Megrez Search page chrome: the theme picker, "Copied" feedback, and questions from the
// address bar (`/?q=…`, the browser's search engine; see ui/search_engine.py).
(() => {
  // --- Theme: System / Light / Dark, kept in localStorage. Gradio marks dark mode with
  // body.dark and sets it from the OS when it mounts (and when the OS changes), so every
  // change of that class is checked against the user's pick.
  const THEME_KEY = "megrez-search-theme";
  const osDark = window.matchMedia("(prefers-color-scheme: dark)");
  let theme = localStorage.getItem(THEME_KEY) || "system";
  const wantsDark = () => theme === "dark" || (theme === "system" && osDark.matches);
  function applyTheme() {
    const body = document.body;
    if (body && body.classList.contains("dark") !== wantsDark()) {
      body.classList.toggle("dark", wantsDark());
    }
  }
  osDark.addEventListener("change", applyTheme);
  document.addEventListener("change", (e) => {
    const input = e.target;
    if (!(input instanceof HTMLInputElement) || !input.closest("#theme")) return;
    theme = input.value.toLowerCase();
    localStorage.setItem(THEME_KEY, theme);
    applyTheme();
  });
  // The picker shows the kept pick until the user picks with a real click or key: Gradio may
  // render the radio again with its server value (System) after the first mount, so the pick
  // is put back each time, but never over the user's own choice.
  let userPicked = false;
  const picking = (e) => {
    if (e.isTrusted && e.target instanceof Element && e.target.closest("#theme")) userPicked = true;
  };
  document.addEventListener("pointerdown", picking, true);
  document.addEventListener("keydown", picking, true);
  function showTheme() {
    if (userPicked) return;
    const picked = [...document.querySelectorAll("#theme input[type=radio]")].find(
      (input) => input.value.toLowerCase() === theme);
    if (picked && !picked.checked) picked.click();
  }

  // --- "Copy answer" says "Copied" for a moment once the clipboard holds the answer.
  let copiedTimer = null;
  document.addEventListener("megrez:copied", () => {
    const button = document.querySelector("#copy-answer");
    if (!button) return;
    if (!button.dataset.label) button.dataset.label = button.textContent.trim();
    button.textContent = "Copied ✓";
    clearTimeout(copiedTimer);
    copiedTimer = setTimeout(() => { button.textContent = button.dataset.label; }, 2000);
  });

  // --- The browser's search engine. `q` leaves the address bar at once, so a reload does
  // not ask again; it waits in sessionStorage until the page has loaded (after a login,
  // too), then goes to the hidden #url-question box, which starts a new chat and asks.
  const ASK_KEY = "megrez-search-url-question";
  const url = new URL(window.location.href);
  const asked = url.searchParams.get("q");
  if (asked !== null) {
    if (asked.trim()) {
      sessionStorage.setItem(ASK_KEY, JSON.stringify({
        q: asked,
        deep: url.searchParams.get("deep") === "1",
        search: url.searchParams.get("search") !== "0",
      }));
    }
    ["q", "deep", "search"].forEach((name) => url.searchParams.delete(name));
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  }
  function askFromUrl() {
    const pending = sessionStorage.getItem(ASK_KEY);
    if (!pending) return;
    const ready = document.querySelector("#page-ready");
    const box = document.querySelector("#url-question textarea");
    if (!box || !ready || ready.textContent.trim() !== "ready") return;
    sessionStorage.removeItem(ASK_KEY);
    box.value = pending;
    box.dispatchEvent(new Event("input", { bubbles: true }));  // Gradio's value follows
    // Gradio's Textbox submits on the Enter keypress (not on the `input` event).
    box.dispatchEvent(new KeyboardEvent("keypress", { key: "Enter", bubbles: true }));
  }

  new MutationObserver(() => { applyTheme(); showTheme(); askFromUrl(); }).observe(
    document.documentElement, { childList: true, subtree: true, attributes: true,
      attributeFilter: ["class"] });
  applyTheme();
})();
