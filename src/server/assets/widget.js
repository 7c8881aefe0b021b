/* crier widget: the current incident as a banner on your own site.
   <script src="https://status.example.com/widget.js" async></script>
   No dependencies, no cookies; live over Server-Sent Events (the browser reconnects by
   itself); hidden when nothing is open; dismissed per update (remembered in localStorage). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__crierWidget) return;
  window.__crierWidget = true;
  var origin = new URL(script.src, location.href).origin;
  var KEY = "crier-widget-dismissed";
  // [text, background, accent]: contrast of text on background is above 7:1 for each.
  var TONES = {
    minor: ["#4d3800", "#fff8c5", "#9a6700"],
    major: ["#5c2200", "#fff1e5", "#bc4c00"],
    critical: ["#6e0b1c", "#ffebe9", "#cf222e"],
    maintenance: ["#033d8b", "#ddf4ff", "#0969da"]
  };
  var LABELS = { minor: "Minor impact", major: "Major impact", critical: "Critical impact", maintenance: "Maintenance" };
  var root = document.createElement("div");
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", "Service status");
  root.style.cssText = "position:fixed;left:12px;right:12px;bottom:12px;z-index:2147483647;" +
    "max-width:34rem;margin:0 auto;display:none;box-sizing:border-box;border-radius:10px;" +
    "box-shadow:0 4px 16px rgba(0,0,0,.18);font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;";
  var live = document.createElement("div");
  live.setAttribute("aria-live", "polite");
  live.setAttribute("role", "status");
  root.appendChild(live);
  var current = null;

  function dismissed(key) {
    try { return window.localStorage.getItem(KEY) === key; } catch (e) { return false; }
  }
  function remember(key) {
    try { window.localStorage.setItem(KEY, key); } catch (e) { /* private mode: this page only */ }
  }
  function el(tag, text, css) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    if (css) node.style.cssText = css;
    return node;
  }
  function hide() {
    root.style.display = "none";
    live.textContent = "";
  }
  function render(state) {
    if (!state || !state.open) { current = null; hide(); return; }
    var key = state.incident_id + ":" + state.sequence;
    current = key;
    if (dismissed(key)) { hide(); return; }
    var tone = TONES[state.severity] || TONES.major;
    root.style.background = tone[1];
    root.style.color = tone[0];
    root.style.borderLeft = "6px solid " + tone[2];
    live.textContent = "";
    var box = el("div", "", "padding:12px 44px 12px 14px;position:relative;");
    box.appendChild(el("div", (LABELS[state.severity] || "") + " \u00b7 updated " + state.updated,
      "font-size:13px;font-weight:600;letter-spacing:.01em;margin:0 0 2px;"));
    box.appendChild(el("p", state.headline, "margin:0 0 4px;font-weight:700;font-size:16px;"));
    box.appendChild(el("p", state.summary, "margin:0 0 6px;"));
    var link = el("a", "Status page and updates", "color:inherit;font-weight:600;text-decoration:underline;");
    link.href = state.status_url;
    box.appendChild(link);
    var close = el("button", "\u00d7", "position:absolute;top:6px;right:6px;width:32px;height:32px;" +
      "border:0;border-radius:6px;background:transparent;color:inherit;font-size:22px;line-height:1;cursor:pointer;");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss this notice");
    close.addEventListener("click", function () { remember(key); hide(); });
    box.appendChild(close);
    live.appendChild(box);
    root.style.display = "block";
  }
  function connect() {
    if (!window.EventSource) return;
    var events = new EventSource(origin + "/v1/events");
    events.addEventListener("state", function (e) {
      try { render(JSON.parse(e.data)); } catch (err) { /* a bad message changes nothing */ }
    });
  }
  function start() {
    document.body.appendChild(root);
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && current && root.style.display !== "none" && root.contains(document.activeElement)) {
        remember(current); hide();
      }
    });
    connect();
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
