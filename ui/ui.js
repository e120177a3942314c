// Megrez Search chat: citation previews, Esc to stop, the sidebar on a phone, Copy answer.
// Everything shown in a preview is set with textContent: page text never becomes HTML.
(() => {
  let preview = null;
  let anchor = null;
  let hideTimer = null;
  let shownAt = 0;

  function card(cite) {
    const message = cite.closest(".message-content") || document;
    const number = (cite.textContent || "").replace(/\D/g, "");
    return [...message.querySelectorAll(".source-card")].find(
      (c) => (c.querySelector(".source-n") || {}).textContent === number);
  }

  function box() {
    if (preview) return preview;
    preview = document.createElement("div");
    preview.id = "cite-preview";
    preview.setAttribute("role", "dialog");
    preview.setAttribute("aria-label", "Cited passage");
    preview.hidden = true;
    preview.addEventListener("mouseenter", () => clearTimeout(hideTimer));
    preview.addEventListener("mouseleave", () => later(hide));
    document.body.appendChild(preview);
    return preview;
  }

  function show(cite) {
    clearTimeout(hideTimer);
    const source = card(cite);
    const title = source ? source.querySelector(".source-title").textContent : cite.title;
    const site = source ? source.querySelector(".source-site").textContent : "";
    const passage = source ? source.querySelector(".source-snippet").textContent : "";
    const el = box();
    el.replaceChildren();
    const link = document.createElement("a");
    link.className = "preview-title";
    link.href = cite.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = `[${(cite.textContent || "").replace(/\D/g, "")}] ${title}`;
    const where = document.createElement("span");
    where.className = "preview-site";
    where.textContent = site;
    const text = document.createElement("p");
    text.className = "preview-passage";
    if (passage) text.append("“", ...marked(passage, fragmentOf(cite.href)), "”");
    el.append(link, where, text);
    if (el.hidden || anchor !== cite) shownAt = Date.now();
    el.hidden = false;
    anchor = cite;
    const r = cite.getBoundingClientRect();
    const width = Math.min(420, window.innerWidth * 0.92);
    el.style.left = `${Math.max(8, Math.min(r.left, window.innerWidth - width - 8))}px`;
    const below = r.bottom + 6;
    el.style.top = `${below}px`;
    const h = el.getBoundingClientRect().height;
    if (below + h > window.innerHeight - 8) el.style.top = `${Math.max(8, r.top - h - 6)}px`;
  }

  // The text fragment ("#:~:text=start,end") the server put in a chip's link: the passage's
  // sentence that supports the answer's sentence (ui/render.py, citation_html).
  function fragmentOf(href) {
    const at = href.indexOf(":~:text=");
    if (at < 0) return [];
    try {
      return href.slice(at + 8).split("&")[0].split(",").map(decodeURIComponent);
    } catch (e) {
      return [];
    }
  }

  // The passage as text nodes, the span from `edges[0]` to `edges[1]` (or `edges[0]` alone)
  // in a <mark>; only textContent: page text never becomes HTML.
  function marked(passage, edges) {
    const plain = passage.replace(/\s+/g, " ");
    const lower = plain.toLowerCase();
    const start = edges.length ? lower.indexOf(edges[0].toLowerCase()) : -1;
    if (start < 0) return [plain];
    let end = start + edges[0].length;
    if (edges.length > 1) {
      const last = lower.indexOf(edges[1].toLowerCase(), end);
      if (last < 0) return [plain];
      end = last + edges[1].length;
    }
    const mark = document.createElement("mark");
    mark.textContent = plain.slice(start, end);
    return [plain.slice(0, start), mark, plain.slice(end)];
  }

  function hide() {
    if (preview) preview.hidden = true;
    anchor = null;
  }

  function later(fn) {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(fn, 250);
  }

  const citeOf = (target) => target instanceof Element && target.closest("#chat a.cite");

  document.addEventListener("mouseover", (e) => { const c = citeOf(e.target); if (c) show(c); });
  document.addEventListener("mouseout", (e) => { if (citeOf(e.target)) later(hide); });
  document.addEventListener("focusin", (e) => {
    const c = citeOf(e.target);
    if (c) show(c);
    else if (!(preview && preview.contains(e.target))) hide();
  });
  // A tap or click opens the preview (its title links to the page) instead of leaving.
  document.addEventListener("click", (e) => {
    const c = citeOf(e.target);
    if (c) {
      e.preventDefault();
      // A tap also sends mouseover just before the click: that must not close it again.
      const open = anchor === c && preview && !preview.hidden;
      if (open && Date.now() - shownAt > 500) hide(); else show(c);
    } else if (preview && !preview.contains(e.target)) {
      hide();
    }
  }, true);

  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (preview && !preview.hidden) { hide(); return; }
    const stop = document.querySelector("#stop");
    if (stop && !stop.classList.contains("idle")) { e.preventDefault(); stop.click(); }
  });

  // Code in answers: a Copy button on each block (added here: the CSP runs no inline script).
  function codeButtons(root) {
    root.querySelectorAll("#chat pre:not(:has(> .copy-code))").forEach((pre) => {
      if (!pre.querySelector("code")) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy-code";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy code");
      pre.prepend(button);
    });
  }
  document.addEventListener("click", (e) => {
    const button = e.target instanceof Element && e.target.closest("#chat .copy-code");
    if (!button) return;
    const code = button.parentElement.querySelector("code");
    navigator.clipboard.writeText(code ? code.textContent : "").then(
      () => { button.textContent = "Copied"; },
      () => { button.textContent = "Copy failed"; });
  });


  // Gradio's collapsible progress title is a role=button holding an unlabelled icon button:
  // a nested control screen readers announce as a nameless button. The title already
  // toggles (click, Enter, Space), so the icon is disabled and hidden.
  function quietIcons(root) {
    root.querySelectorAll(".thought-group .title button:not([data-quiet])").forEach((b) => {
      b.dataset.quiet = "1";
      b.disabled = true;  // not focusable: clicks go to the title (ui.css)
      b.setAttribute("aria-hidden", "true");
    });
  }
  // The status line under the chat is announced when it changes ("Answered in 2.1 s").
  function liveStatus() {
    const status = document.querySelector("#status");
    if (status && !status.hasAttribute("role")) {
      status.setAttribute("role", "status");
      status.setAttribute("aria-live", "polite");
    }
  }
  // On a phone the conversation comes first: the sidebar starts closed, behind its button.
  // Gradio opens it (more than once) while it mounts, so every opening is undone until the
  // user first touches or types (synthetic clicks, like ours, are not the user's).
  let sidebarSeen = false;
  function closeSidebarOnPhone() {
    const sidebar = document.querySelector(".sidebar");
    if (sidebarSeen || !sidebar) return;
    sidebarSeen = true;
    if (window.innerWidth > 700) return;
    const close = () => {
      if (sidebar.classList.contains("open")) sidebar.querySelector(".toggle-button")?.click();
    };
    const watch = new MutationObserver(close);
    watch.observe(sidebar, { attributes: true, attributeFilter: ["class"] });
    const kinds = ["pointerdown", "touchstart", "keydown"];
    const userActs = (e) => {
      if (!e.isTrusted) return;
      watch.disconnect();
      kinds.forEach((kind) => document.removeEventListener(kind, userActs, true));
    };
    kinds.forEach((kind) => document.addEventListener(kind, userActs, true));
    close();
  }
  // "Copy answer": the server empties, then fills the hidden #clipboard with the answer's
  // Markdown; each fill is copied once.
  let copied = null;
  function copyAnswer() {
    const box = document.querySelector("#clipboard pre");
    const text = box ? box.textContent : "";
    if (!text) { copied = null; return; }
    if (text === copied) return;
    copied = text;
    navigator.clipboard.writeText(text).then(
      () => document.dispatchEvent(new CustomEvent("megrez:copied")), () => {});
  }
  new MutationObserver(() => {
    quietIcons(document); liveStatus(); closeSidebarOnPhone(); copyAnswer(); codeButtons(document);
  }).observe(document.documentElement, {
    childList: true, subtree: true,
  });
})();
