// Supervisor view: escalations (acknowledge), stations, blocked parcels, lots near expiry, suspect catalogue weights
// (accept / reset), milestones, audit.
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

// What an audited change changed, in words: "state: blocked → weighed OK", "weight: 1100.0 g → 984.0 g" per
// differing field (the full before/after as JSON in the tooltip). A stop is "stopped, back in the queue".
function change(action, before, after) {
  const raw = (v) => (v == null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const full = `before: ${raw(before)}\nafter: ${raw(after)}`;
  const value = (k, v) => {
    if (v == null) return "—";
    if (k === "state" && action === "cancel" && v === "cancelled") return t("order_status:stopped");
    if (k === "state") return word("order_status", v);
    if (k === "weight" && typeof v === "object") return v.measured_g != null ? `${v.measured_g} g` : "—";
    if (k === "code" || k === "reason") return reasonText(v);
    if (k === "operator") return personName(v);
    return raw(v);
  };
  const fields = (x) => (x && typeof x === "object" && !Array.isArray(x) ? x : {});
  const b = fields(before), a = fields(after);
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => raw(b[k]) !== raw(a[k]));
  const parts = keys.map((k) => `${known("field:" + k) ? t("field:" + k) : k}: ` +
    (k in b ? `${value(k, b[k])} → ` : "") + value(k, a[k]));
  return `<td class="change" title="${esc(full)}">${parts.map((p) => `<div>${esc(p)}</div>`).join("")}</td>`;
}

let NAMES = {};
function personName(id) {
  return NAMES[id] || id || "";
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
  // site policies: orders under review, stock alerts, carrier switches
  const reviews = o.reviews || [];
  count("review-count", reviews.filter((r) => !r.decision).length, true);
  rows("reviews", ["h_order", "h_rules", "h_decision", "h_by", "h_when"], reviews, (r) =>
    `<tr data-order="${esc(r.order_id)}"><td><b>${esc(r.order_id)}</b></td>` +
    `<td class="wrap">${esc((r.rules || []).map((m) => `${m.rule}: ${m.detail}`).join("; "))}</td>` +
    `<td>${esc(r.decision ? t("review_" + r.decision) : t("review_waiting"))}</td><td>${esc(r.decided_by || "—")}</td>` +
    `${timeCell(r.decided_at || r.opened_at)}</tr>`);
  const alerts = o.stock_alerts || [];
  count("stock-count", alerts.filter((a) => a.open && a.kind === "threshold").length, true);
  rows("stock-alerts", ["h_sku", "h_lot", "h_left", "h_threshold", "h_when"], alerts, (a) =>
    `<tr data-sku="${esc(a.sku)}"><td><b>${esc(a.sku)}</b></td><td>${esc(a.lot || "—")}</td>` +
    `<td class="num">${esc(a.kind === "short" ? "-" + a.detail.missing : a.detail.after)}</td>` +
    `<td class="num">${esc(a.detail.threshold == null ? "—" : a.detail.threshold)}</td>${timeCell(a.at)}</tr>`);
  const switches = (o.carriers && o.carriers.switches) || [];
  rows("carrier-switches", ["h_order", "h_from", "h_to", "h_reason", "h_when"], switches, (c) =>
    `<tr data-order="${esc(c.order_id)}"><td><b>${esc(c.order_id)}</b></td><td>${esc(c.booked)}</td>` +
    `<td>${esc(c.carrier)}</td><td>${esc(c.why)}${c.auto ? " (auto)" : ""}</td>${timeCell(c.at)}</tr>`);
  // 逆向物流: the returns received here, open or closed (refund / review), the latest first
  const returned = o.returns || [];
  count("returns-count", returned.filter((r) => r.state !== "closed").length, false);
  rows("returns", ["rt_rma", "h_order", "rt_reason", "h_when", "h_state", "rt_outcome"], returned, (r) =>
    `<tr data-rma="${esc(r.rma_id)}"><td><b>${esc(r.rma_id)}</b></td><td>${esc(r.order_id)}</td>` +
    `<td>${esc(word("reason", r.reason))}</td>${timeCell(r.closed_at || r.opened_at)}` +
    `<td>${esc(t("rt_state_" + r.state))}</td><td>${esc(r.outcome ? t("rt_outcome_" + r.outcome) : "—")}</td></tr>`);
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
  // the milestones in the order they happen; where an order waits is said under its status
  rows("milestones", ["h_order", "h_status", "h_picked", "h_verified", "h_weighed", "h_packed", "h_synced"], listed("milestones").items, (m) =>
    `<tr data-order="${esc(m.order_id)}"><td data-value>${esc(m.order_id)}</td><td class="wrap">${esc(word("order_status", m.status))}` +
    `${m.waiting ? `<div class="muted waiting">${esc(m.waiting[LANG] || m.waiting.en)}</div>` : ""}</td>` +
    `${timeCell(m.picked_at)}${timeCell(m.verified_at)}${timeCell(m.weighed_at)}${timeCell(m.packed_at)}${timeCell(m.synced_at)}</tr>`);
  NAMES = Object.fromEntries((o.employees || []).map((e) => [e.employee_id, e.name]));
  const person = (id) => (NAMES[id] ? `${NAMES[id]} (${id})` : (id || ""));
  rows("audit", ["h_when", "h_who", "h_action", "h_object", "h_change", "h_reason"], listed("audit").items, (a) =>
    `<tr data-action="${esc(a.action)}">${timeCell(a.at)}<td data-value>${esc(person(a.who))}</td><td>${esc(word("action", a.action))}</td>` +
    `<td><b data-value>${esc(a.object_id)}</b></td>${change(a.action, a.before, a.after)}<td class="wrap">${reasonHtml(a.reason)}</td></tr>`);
  rows("rejected", ["h_when", "h_device", "h_raw", "h_reason"], listed("rejected_input").items, (r) =>
    `<tr>${timeCell(r.at)}<td>${esc(r.source)}</td><td><code>${esc(String(r.raw).replace(/\x1d/g, "<GS>"))}</code></td>` +
    `<td class="wrap">${esc(r.reason)}</td></tr>`);
  [["expiring_lots", "lots"], ["milestones", "milestones"], ["audit", "audit"], ["rejected_input", "rejected"]]
    .forEach(([kind, id]) => more(kind, id));
  document.querySelectorAll("button.ack").forEach((b) => (b.onclick = async () => {
    b.disabled = true;
    const v = await postAction(`/api/v1/escalations/${encodeURIComponent(b.dataset.id)}/ack`, {});
    const msg = document.getElementById("ack-msg");
    msg.textContent = (LANG === "zh" && v.message_zh) ? v.message_zh : (v.message || "");
    msg.className = "msg" + (v.status === "ok" ? "" : " error");
    Sound.play(v.sound);
    refresh();
  }));
}

// The suspect-weight review: the catalogue weight, what passing and overridden parcels say (apart: mean ± σ, n),
// the proposal and sample parcels; accept or reset as the supervisor signed in here.
function renderWeights(review) {
  const suspects = review.suspects || [];
  count("weights-count", suspects.length, true);
  const site = review.site;  // in a site: the hub's figures, or the last ones this table had while it is unreachable
  document.getElementById("weights-site").textContent = site && site.at
    ? `${t(site.offline ? "weights_site_offline" : "weights_site")} ${site.at}` : "";
  const figure = (f) => (f ? `<td class="num">${esc(f.mean_g)} ± ${esc(f.sigma_g)} g<div class="muted">${esc(tn("parcel", f.n))}</div></td>`
    : `<td class="muted">—</td>`);
  rows("suspects", ["h_sku", "h_catalogue", "h_from_passing", "h_from_overridden", "h_proposed", "h_samples", ""], suspects, (s) =>
    `<tr data-sku="${esc(s.sku)}"><td><b>${esc(s.sku)}</b><div class="muted">${esc(s.name)}</div></td>` +
    `<td class="num">${s.reference_g == null ? "—" : esc(s.reference_g) + " g"}</td>${figure(s.passing)}${figure(s.overridden)}` +
    `<td class="num"><b>${esc(s.proposed_g)} g</b>${s.deviation_pct == null ? "" : `<div class="muted">${esc(s.deviation_pct)} %</div>`}</td>` +
    `<td class="wrap">${esc([...((s.passing || {}).samples || []), ...((s.overridden || {}).samples || [])].join(", "))}</td>` +
    `<td><button type="button" class="decide" data-sku="${esc(s.sku)}" data-action="accept">${esc(t("weight_accept"))}</button> ` +
    `<button type="button" class="decide secondary" data-sku="${esc(s.sku)}" data-action="reset">${esc(t("weight_reset"))}</button></td></tr>`);
  document.querySelectorAll("button.decide").forEach((b) => (b.onclick = async () => {
    b.disabled = true;
    const reason = document.getElementById("weights-reason").value;
    const v = await postAction(`/api/v1/supervisor/weights/${encodeURIComponent(b.dataset.sku)}`, { action: b.dataset.action, reason });
    const msg = document.getElementById("weights-msg");
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
    if (o.status !== "error") renderWeights(await getJSON("/api/v1/supervisor/weights"));
  } catch (e) { /* offline for a moment: keep what is shown, try again on the next tick */ }
}

async function signIn() {
  const pin = document.getElementById("login-pin");
  const go = document.getElementById("login-go");
  if (go.disabled) return;
  const r = await busy(go, () => postAction("/api/v1/pda/login",
    { badge: document.getElementById("login-badge").value, pin: pin.value, page: "supervisor" }));
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
  window.onLangChange = () => { refresh(); drawEvidence(); };
  refresh();
  setInterval(refresh, 5000);
});
