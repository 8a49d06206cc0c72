// Supervisor view: escalations (acknowledge), stations, blocked parcels, lots near expiry, milestones, audit.
// Supervisors only: the data panels show after a supervisor signs in with badge code + PIN.
"use strict";

let OVERVIEW = null;
let COUNTS = {};
const PAGE = Number(new URLSearchParams(location.search).get("limit")) || 50;  // rows of each list in the overview (?limit= on the page's address); "more" follows next_cursor
const MORE = {};  // list -> {items, cursor}: the pages fetched with "more", kept over refreshes
const KEY = { milestones: (m) => m.order_id, expiring_lots: (l) => `${l.sku}\u0000${l.lot}`, audit: (a) => a.id,
  rejected_input: (r) => r.id };

// The overview's first page of `kind` and the pages fetched with "more" after it (no row twice).
function listed(kind) {
  const first = OVERVIEW[kind] || [];
  const extra = MORE[kind];
  if (!extra) return { items: first, cursor: (OVERVIEW.next_cursor || {})[kind] || null };
  const seen = new Set(first.map(KEY[kind]));
  return { items: first.concat(extra.items.filter((x) => !seen.has(KEY[kind](x)))), cursor: extra.cursor };
}

function more(kind, tableId) {
  const { cursor } = listed(kind);
  moreButton(document.getElementById(tableId).parentElement, cursor, async (after) => {
    const page = await getJSON(`/api/v1/supervisor/${kind.replace("_", "-")}?limit=${PAGE}&cursor=${encodeURIComponent(after)}`);
    const extra = MORE[kind] || (MORE[kind] = { items: [], cursor: null });
    extra.items = extra.items.concat(page.items || []);
    extra.cursor = page.next_cursor || null;
    render(OVERVIEW, null);
  });
}

function rows(id, headerKeys, items, fn) {
  const table = document.getElementById(id);
  table.innerHTML = `<tr>${headerKeys.map((h) => `<th>${h ? esc(t(h)) : ""}</th>`).join("")}</tr>` +
    (items.length ? items.map(fn).join("") : `<tr><td colspan="${headerKeys.length}" class="muted">—</td></tr>`);
  // on a phone each row is a card: every cell names its column
  table.querySelectorAll("tr").forEach((tr) => tr.querySelectorAll("td").forEach((td, i) => {
    if (headerKeys[i] && items.length) td.dataset.label = t(headerKeys[i]);
  }));
}

const word = (kind, value) => (value == null ? "—" : t(`${kind}:${value}`));

function count(id, n, hot) {
  const el = document.getElementById(id);
  el.textContent = String(n);
  el.classList.toggle("hot", !!hot && n > 0);
}

// What an audited change changed: "state: blocked → weighed_ok" per differing field (the full before/after in the tooltip).
function change(before, after) {
  const show = (v) => (v == null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const full = `before: ${show(before)}\nafter: ${show(after)}`;
  let parts;
  if (before && after && typeof before === "object" && typeof after === "object" && !Array.isArray(before)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const shown = (k, v) => (k === "state" && typeof v === "string" ? word("order_status", v) : show(v));
    parts = keys.filter((k) => show(before[k]) !== show(after[k]))
      .map((k) => `${t(k === "state" ? "h_state" : k)}: ${shown(k, before[k])} → ${shown(k, after[k])}`);
  } else {
    parts = [`${show(before)} → ${show(after)}`];
  }
  return `<td class="change" title="${esc(full)}">${parts.map((p) => `<div>${esc(p)}</div>`).join("")}</td>`;
}

// `o`: the overview, or the API's refusal ({status: "error"}) when no supervisor is signed in on this
// browser; `me`: who is signed in then (from /api/v1/pda/me), to tell "sign in" from "not a supervisor".
function render(o, me) {
  OVERVIEW = o;
  const refused = o.status === "error";
  const viewer = refused ? (me || null) : (o.viewer || null);
  const isSupervisor = !refused && !!viewer && viewer.role === "supervisor";
  const who = document.getElementById("who");
  who.textContent = viewer ? viewer.name : "";
  who.title = viewer ? `${viewer.name} · ${viewer.role}` : "";
  who.classList.toggle("hidden", !viewer);
  who.classList.toggle("on", isSupervisor);
  document.getElementById("refresh").classList.toggle("hidden", !isSupervisor);
  document.getElementById("logout").classList.toggle("hidden", !viewer);
  document.getElementById("signin").classList.toggle("hidden", isSupervisor);
  document.querySelectorAll("main.supervisor .data").forEach((el) => el.classList.toggle("hidden", !isSupervisor));
  if (viewer && !isSupervisor) {
    const msg = document.getElementById("login-msg");
    msg.textContent = t("not_supervisor"); msg.className = "msg error";
  }
  if (!isSupervisor) return;

  const escalations = o.escalations || [];
  count("esc-count", COUNTS.open_escalations ?? escalations.length, true);
  rows("escalations", ["h_order", "h_level", "h_due", "h_fired", ""], escalations, (e) =>
    `<tr data-escalation="${esc(e.id)}" data-order="${esc(e.order_id)}"><td><b>${esc(e.order_id)}</b></td><td>${esc(e.level)}</td>` +
    `${timeCell(e.deadline)}${timeCell(e.fired_at)}` +
    `<td><button type="button" class="ack" data-id="${esc(e.id)}">${esc(t("acknowledge"))}</button></td></tr>`);
  // every configured device with its state, in the kiosk's and /healthz's words
  const devices = (s) => Object.entries(s.devices || {}).map(([name, state]) =>
    `<div class="device ${esc(state)}" data-device="${esc(name)}" data-state="${esc(state)}">` +
    `${esc(t("device_name:" + name))}: ${esc(word("device", state))}</div>`).join("") || "—";
  rows("stations", ["h_station", "h_operator", "h_order", "h_state", "h_devices", "h_to_sync"], o.stations || [], (s) =>
    `<tr data-station="${esc(s.id)}"><td><b>${esc(s.id)}</b></td><td>${esc(s.operator || "—")}</td><td>${esc(s.order || "—")}</td>` +
    `<td>${esc(word("order_status", s.state))}</td><td data-state="${esc(s.scale)}">${devices(s)}</td>` +
    `<td class="num">${esc(s.depth)}</td></tr>`);
  // 订单拦截: what the WMS held or cancelled, and packs or hand-overs it refused because it had cancelled the order
  const intercepted = o.intercepted || [];
  count("intercepted-count", intercepted.length, false);
  rows("intercepted", ["h_order", "h_wms", "h_reason", "h_when", "h_here", "h_steps"], intercepted, (i) =>
    `<tr data-order="${esc(i.order_id)}"><td><b>${esc(i.order_id)}</b></td><td>${esc(word("order_status", i.status))}</td>` +
    `<td class="wrap">${esc(i.reason || "")}</td>${timeCell(i.at)}<td>${esc(word("order_status", i.local_status))}</td>` +
    `<td class="num">${esc(i.steps_stopped)}</td></tr>`);
  const conflicts = o.conflicts || [];
  count("conflict-count", conflicts.length, true);
  rows("conflicts", ["h_order", "h_action", "h_when", "h_reason", ""], conflicts, (c) =>
    `<tr data-conflict="${esc(c.id)}" data-order="${esc(c.object_id)}"><td><b>${esc(c.object_id)}</b></td>` +
    `<td>${esc(c.action)}</td>${timeCell(c.dead_at)}<td class="wrap">${esc(c.dead_reason)}</td>` +
    `<td><input class="resolve-note" data-id="${esc(c.id)}" placeholder="${esc(t("resolve_note"))}">` +
    `<button type="button" class="resolve" data-id="${esc(c.id)}">${esc(t("resolve"))}</button></td></tr>`);
  document.querySelectorAll("button.resolve").forEach((b) => (b.onclick = async () => {
    const note = document.querySelector(`input.resolve-note[data-id="${CSS.escape(b.dataset.id)}"]`).value;
    const v = await postAction(`/api/v1/supervisor/conflicts/${encodeURIComponent(b.dataset.id)}/resolve`, { note });
    const msg = document.getElementById("conflict-msg");
    msg.textContent = (LANG === "zh" && v.message_zh) ? v.message_zh : (v.message || "");
    msg.className = "msg" + (v.status === "ok" ? "" : " error");
    if (v.status === "ok") refresh();
  }));
  const blocked = o.blocked || [];
  count("blocked-count", (COUNTS.orders || {}).blocked ?? blocked.length, true);
  rows("blocked", ["h_order", "h_since", "h_reason"], blocked, (b) =>
    `<tr data-order="${esc(b.order_id)}"><td><b>${esc(b.order_id)}</b></td>${timeCell(b.at)}<td class="wrap">${esc(b.reason)}</td></tr>`);
  const lots = listed("expiring_lots").items;
  count("lots-count", COUNTS.expiring_lots ?? lots.length, false);
  rows("lots", ["h_days", "h_sku", "h_lot", "h_bin", "h_expires"], lots, (l) => {
    const expired = l.days_left < 0;
    return `<tr class="${expired ? "expired" : "expiring"}" data-lot="${esc(l.lot)}">` +
      `<td><span class="badge ${expired ? "expired" : "soon"}">${expired ? esc(t("expired")) : esc(l.days_left)}</span></td>` +
      `<td>${esc(l.sku)}</td><td><b>${esc(l.lot)}</b></td><td>${esc(l.bin)}</td><td>${esc(l.expires)}</td></tr>`;
  });
  rows("milestones", ["h_order", "h_status", "h_picked", "h_verified", "h_weighed", "h_packed", "h_synced", "h_waiting"], listed("milestones").items, (m) =>
    `<tr data-order="${esc(m.order_id)}"><td>${esc(m.order_id)}</td><td>${esc(word("order_status", m.status))}</td>${timeCell(m.picked_at)}${timeCell(m.verified_at)}` +
    `${timeCell(m.weighed_at)}${timeCell(m.packed_at)}${timeCell(m.synced_at)}<td>${esc(m.waiting ? m.waiting[LANG] || m.waiting.en : "")}</td></tr>`);
  const names = Object.fromEntries((o.employees || []).map((e) => [e.employee_id, e.name]));
  const person = (id) => (names[id] ? `${names[id]} (${id})` : (id || ""));
  rows("audit", ["h_when", "h_who", "h_action", "h_object", "h_change", "h_reason"], listed("audit").items, (a) =>
    `<tr data-action="${esc(a.action)}">${timeCell(a.at)}<td>${esc(person(a.who))}</td><td>${esc(word("action", a.action))}</td><td><b>${esc(a.object_id)}</b></td>` +
    `${change(a.before, a.after)}<td class="wrap">${esc(a.reason || "")}</td></tr>`);
  rows("rejected", ["h_when", "h_device", "h_raw", "h_reason"], listed("rejected_input").items, (r) =>
    `<tr>${timeCell(r.at)}<td>${esc(r.source)}</td><td><code>${esc(String(r.raw).replace(/\x1d/g, "<GS>"))}</code></td>` +
    `<td class="wrap">${esc(r.reason)}</td></tr>`);
  [["expiring_lots", "lots"], ["milestones", "milestones"], ["audit", "audit"], ["rejected_input", "rejected"]]
    .forEach(([kind, id]) => more(kind, id));
  document.querySelectorAll("button.ack").forEach((b) => (b.onclick = async () => {
    b.disabled = true;
    const v = await postAction(`/api/v1/escalations/${b.dataset.id}/ack`, {});
    const msg = document.getElementById("ack-msg");
    msg.textContent = (LANG === "zh" && v.message_zh) ? v.message_zh : (v.message || "");
    msg.className = "msg" + (v.status === "ok" ? "" : " error");
    Sound.play(v.sound);
    refresh();
  }));
}

async function refresh() {
  try {
    const o = await getJSON(`/api/v1/supervisor/overview?limit=${PAGE}`);
    const me = o.status === "error" ? (await getJSON("/api/v1/pda/me")).employee : null;
    COUNTS = o.status === "error" ? {} : await getJSON("/api/v1/supervisor/counts");
    render(o, me);
  } catch (e) { /* offline for a moment: keep what is shown, try again on the next tick */ }
}

async function signIn() {
  const pin = document.getElementById("login-pin");
  const r = await postAction("/api/v1/pda/login",
    { badge: document.getElementById("login-badge").value, pin: pin.value, page: "supervisor" });
  pin.value = "";
  const msg = document.getElementById("login-msg");
  msg.textContent = r.status === "ok" ? "" : r.code === "not_supervisor" ? t("not_supervisor")
    : ((LANG === "zh" && r.message_zh) ? r.message_zh : r.message);
  msg.className = "msg" + (r.status === "ok" ? "" : " error");
  if (r.status !== "ok") Sound.play("error");
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  document.getElementById("login-go").onclick = signIn;
  document.getElementById("login-pin").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); signIn(); } });
  document.getElementById("login-badge").addEventListener("keydown", (ev) => {
    if ((ev.key === "Enter" || ev.key === "Tab") && ev.target.value.trim()) { ev.preventDefault(); document.getElementById("login-pin").focus(); }
  });
  document.getElementById("refresh").onclick = refresh;
  document.getElementById("logout").onclick = async () => {
    await postAction("/api/v1/pda/logout", {});
    document.getElementById("login-msg").textContent = "";
    refresh();
  };
  window.onLangChange = refresh;
  refresh();
  setInterval(refresh, 5000);
});
