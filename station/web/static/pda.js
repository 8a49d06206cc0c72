// PDA picking page: sign in with badge code + PIN, follow the pick list bin by bin.
// The PDA's built-in scanner types into the focused field like a keyboard (suffix Enter, Tab or none).
"use strict";

let ME = null;
let CURRENT = null;
let LAST = null;      // the last verdict, re-rendered on a language switch
let ORDERS = [];
let PRIORITY = [];  // picked orders released to any packer by a (site) escalation

// This PDA's own device name in every confirmation (the station records it as <station>-pda-<name>): made once and
// kept in this browser, or named in the page's settings (/pda?device=NAME, kept from then on).
const DEVICE = (() => {
  const KEY = "packgate.pda.device";
  const named = new URLSearchParams(location.search).get("device");
  let name = named && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/.test(named) ? named : null;
  try {
    name = name || localStorage.getItem(KEY);
    if (!name) {
      const bytes = crypto.getRandomValues(new Uint8Array(4));
      name = "pda-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    }
    localStorage.setItem(KEY, name);
  } catch (e) { name = name || "pda"; }  // no storage (private mode): one name per page load
  return name;
})();

function show(id) {
  ["login", "orders", "picking"].forEach((s) => document.getElementById(s).classList.toggle("hidden", s !== id));
  document.body.dataset.view = id;
  const focus = { login: "login-badge", picking: "pick-input" }[id];
  // to the view's first field, unless the user is already typing in one of its fields (the PIN typed while the page
  // was still asking who is signed in must not land in the badge field)
  if (focus) setTimeout(() => {
    const typing = document.activeElement;
    if (typing && typing.matches("input") && document.getElementById(id).contains(typing)) return;
    document.getElementById(focus).focus();
  }, 0);
}

function verdict(v) {
  LAST = v;
  showVerdict(v, { flash: true });
  Sound.play(v.sound);
}

function setWho() {
  const who = document.getElementById("who");
  who.textContent = ME ? ME.name : "";
  who.classList.toggle("hidden", !ME);
  who.classList.toggle("on", !!ME);
}

const PAGE = Number(new URLSearchParams(location.search).get("limit")) || 30;  // orders per page (?limit= on the page's address); "more" follows next_cursor
let NEXT = null;

function renderOrders() {
  const list = document.getElementById("order-list");
  list.innerHTML = ORDERS.length ? ORDERS.map((o) =>
    `<button type="button" class="orderbtn${o.priority ? " priority" : ""}" data-order="${esc(o.order_id)}">` +
    `<span class="oid">${o.priority ? "★ " : ""}${esc(o.order_id)}</span><span class="meta">` +
    `<span>${esc(tn("unit", o.units))}</span>${o.tote ? `<span>${esc(o.tote)}</span>` : ""}</span></button>`).join("")
    : `<p class="muted">${esc(t("no_orders"))}</p>`;
  list.querySelectorAll("button").forEach((b) => (b.onclick = () => startPick(b.dataset.order)));
  moreButton(list, NEXT, async (cursor) => {  // the next page of orders, after the ones shown
    const data = await getJSON(`/api/v1/pda/orders?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`);
    ORDERS = ORDERS.concat(data.orders || []);
    NEXT = data.next_cursor || null;
    renderOrders();
  });
  document.getElementById("priority").classList.toggle("hidden", !PRIORITY.length);
  document.getElementById("priority-list").textContent = PRIORITY.map((o) => o.order_id).join(" · ");
}

async function loadOrders() {
  const data = await getJSON(`/api/v1/pda/orders?limit=${PAGE}`);
  if (data.code === "not_signed_in") { ME = null; setWho(); show("login"); return; }
  ORDERS = data.orders || [];
  NEXT = data.next_cursor || null;
  PRIORITY = data.priority_orders || [];
  renderOrders();
  CURRENT = null;
  show("orders");
}

function renderPick(view) {
  CURRENT = view;
  document.getElementById("pick-order").textContent = view.order_id;
  document.getElementById("pick-tote").textContent = view.tote || "";
  const task = view.current;
  const bin = document.getElementById("task-bin");
  const label = document.getElementById("task-label");
  const item = document.getElementById("task-item");
  document.getElementById("picking").dataset.state = view.state || "";
  if (task) {
    bin.textContent = task.bin || "—";
    bin.dataset.bin = task.bin || "";
    label.textContent = view.state === "to_bin" ? `${t("go_to_bin")} · ${t("scan_bin_label")}` : t("scan_items");
    item.textContent = `${t("take")} ${task.qty - task.picked} × ${task.sku} ${task.name}` + (task.lot ? ` · ${t("lot")} ${task.lot}` : "");
  } else {
    bin.textContent = view.tote || "✓";
    bin.dataset.bin = "";
    label.textContent = t("scan_tote");
    item.textContent = view.complete ? t("into_tote") : "";
  }
  document.getElementById("pick-list").innerHTML = (view.tasks || []).map((k, i) => {
    const cls = k.picked >= k.qty ? "done" : (task && i === view.current_index ? "current" : "");
    return `<li class="${cls}" data-bin="${esc(k.bin)}"><span class="b">${esc(k.bin)}</span><span>${esc(k.sku)}` +
      `${k.lot ? " · " + esc(k.lot) : ""}</span><span class="q">${k.picked}/${k.qty}</span></li>`;
  }).join("");
  document.getElementById("take-older").classList.toggle("hidden", !view.fifo);
}

async function startPick(orderId) {
  const v = await postAction("/api/v1/actions", { action: "pick", object_type: "order", object_id: orderId, device: DEVICE, terminal: "pda" });
  verdict(v);
  if (v.status !== "error" && v.data && v.data.pick) { renderPick(v.data.pick); show("picking"); }
}

async function scanned(code) {
  const v = await postAction("/api/v1/actions", { action: "scan", object_id: code, device: DEVICE, terminal: "pda" });
  verdict(v);
  if (v.data && v.data.pick) renderPick(v.data.pick);
  if (v.code === "order_picked") setTimeout(loadOrders, 1200);
  else refocus();
}

function refocus() {
  if (document.body.dataset.view === "picking") document.getElementById("pick-input").focus();
}

async function signIn() {
  const badge = document.getElementById("login-badge");
  const pin = document.getElementById("login-pin");
  const go = document.getElementById("login-go");
  if (go.disabled) return;  // a second tap while the PIN is checked (1-2 s) does nothing
  const r = await busy(go, () => postAction("/api/v1/pda/login", { badge: badge.value, pin: pin.value, device: DEVICE }));
  verdict(r);
  pin.value = "";
  if (r.status === "ok") { ME = r.employee; badge.value = ""; setWho(); loadOrders(); }
  else pin.focus();
}

document.addEventListener("DOMContentLoaded", async () => {
  applyI18n();
  showVerdict(null, {});
  window.onLangChange = () => {
    showVerdict(LAST, {});
    if (document.body.dataset.view === "orders") renderOrders();
    if (CURRENT) renderPick(CURRENT);
  };
  document.getElementById("login-go").onclick = signIn;
  // A badge scanned into the badge field ends with Enter or Tab: move on to the PIN.
  document.getElementById("login-badge").addEventListener("keydown", (ev) => {
    if ((ev.key === "Enter" || ev.key === "Tab") && ev.target.value.trim()) { ev.preventDefault(); document.getElementById("login-pin").focus(); }
  });
  document.getElementById("login-pin").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); signIn(); } });
  document.getElementById("logout").onclick = async () => {
    await postAction("/api/v1/pda/logout", {}); ME = null; LAST = null; setWho(); showVerdict(null, {}); show("login");
  };
  document.getElementById("back").onclick = loadOrders;
  // a change elsewhere on the site (picked, packed, priority released): refresh the list being looked at
  liveEvents("/api/v1/events", { site: () => { if (ME && document.body.dataset.view === "orders") loadOrders(); } });
  document.getElementById("take-older").onclick = async () => {
    const v = await postAction("/api/v1/actions", { action: "fifo_take_older", device: DEVICE, terminal: "pda" });
    verdict(v); if (v.data && v.data.pick) renderPick(v.data.pick);
    refocus();
  };
  // The on-screen keyboard stays away (the scanner types); a tap on ⌨ brings it up to type a code by hand.
  const input = document.getElementById("pick-input");
  document.getElementById("kbd").onclick = () => {
    input.inputMode = input.inputMode === "none" ? "text" : "none";
    input.blur(); input.focus();
  };
  wedgeInput(input, scanned, { idleMs: 300 });
  const me = await getJSON("/api/v1/pda/me");
  if (me.employee) { ME = me.employee; setWho(); loadOrders(); } else { show("login"); }
});
