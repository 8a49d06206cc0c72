// Supervisor view: stations, escalations (acknowledge), blocked parcels, lots near expiry, milestones, audit.
"use strict";

function rows(id, header, items, fn) {
  document.getElementById(id).innerHTML = `<tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>` +
    (items.length ? items.map(fn).join("") : `<tr><td colspan="${header.length}" class="muted">—</td></tr>`);
}

async function refresh() {
  const r = await fetch("/api/v1/supervisor/overview", { credentials: "same-origin" });
  const o = await r.json();
  rows("stations", ["station", "operator", "order", "state", "scale", "to sync"], o.stations || [], (s) =>
    `<tr><td>${esc(s.id)}</td><td>${esc(s.operator || "—")}</td><td>${esc(s.order || "—")}</td><td>${esc(s.state)}</td><td>${esc(s.scale)}</td><td>${esc(s.depth)}</td></tr>`);
  rows("escalations", ["order", "level", "due", "fired", ""], o.escalations || [], (e) =>
    `<tr data-escalation="${e.id}"><td>${esc(e.order_id)}</td><td>${e.level}</td><td>${esc(e.deadline)}</td><td>${esc(e.fired_at || "")}</td>` +
    `<td><button class="ack" data-id="${e.id}">${esc(t("acknowledge"))}</button></td></tr>`);
  rows("blocked", ["order", "since", "reason"], o.blocked || [], (b) =>
    `<tr><td>${esc(b.order_id)}</td><td>${esc(b.at)}</td><td>${esc(b.reason)}</td></tr>`);
  rows("lots", ["sku", "lot", "bin", "expires", "days"], o.expiring_lots || [], (l) =>
    `<tr class="${l.days_left < 0 ? "expired" : "expiring"}"><td>${esc(l.sku)}</td><td>${esc(l.lot)}</td><td>${esc(l.bin)}</td><td>${esc(l.expires)}</td><td>${l.days_left}</td></tr>`);
  rows("milestones", ["order", "status", "picked", "verified", "weighed", "packed", "synced", "waiting in"], o.milestones || [], (m) =>
    `<tr><td>${esc(m.order_id)}</td><td>${esc(m.status)}</td><td>${esc(m.picked_at || "")}</td><td>${esc(m.verified_at || "")}</td>` +
    `<td>${esc(m.weighed_at || "")}</td><td>${esc(m.packed_at || "")}</td><td>${esc(m.synced_at || "")}</td><td>${esc(m.waiting || "")}</td></tr>`);
  rows("audit", ["when", "who", "action", "object", "before", "after", "reason"], o.audit || [], (a) =>
    `<tr><td>${esc(a.at)}</td><td>${esc(a.who)}</td><td>${esc(a.action)}</td><td>${esc(a.object_id)}</td>` +
    `<td>${esc(JSON.stringify(a.before))}</td><td>${esc(JSON.stringify(a.after))}</td><td>${esc(a.reason || "")}</td></tr>`);
  document.querySelectorAll("button.ack").forEach((b) => (b.onclick = async () => {
    const v = await postAction(`/api/v1/escalations/${b.dataset.id}/ack`, {});
    if (v.status !== "ok") alert(v.message);
    refresh();
  }));
  document.getElementById("who").textContent = o.viewer ? o.viewer.name : "";
}

document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  document.getElementById("login-go").onclick = async () => {
    const r = await postAction("/api/v1/pda/login", { badge: document.getElementById("login-badge").value, pin: document.getElementById("login-pin").value });
    if (r.status !== "ok") alert(r.message);
    refresh();
  };
  window.onLangChange = refresh;
  refresh();
  setInterval(refresh, 5000);
});
