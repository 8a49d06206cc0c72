// PDA picking page: sign in with badge code + PIN, follow the pick list bin by bin.
"use strict";

let ME = null;
let CURRENT = null;

function show(id) {
  ["login", "orders", "picking"].forEach((s) => document.getElementById(s).classList.toggle("hidden", s !== id));
  document.body.dataset.view = id;
  const focus = { login: "login-badge", picking: "pick-input" }[id];
  if (focus) setTimeout(() => document.getElementById(focus).focus(), 0);
}

function verdict(v) {
  const box = document.getElementById("verdict");
  box.className = v.status; box.dataset.status = v.status; box.dataset.code = v.code || "";
  document.getElementById("verdict-title").textContent = t(v.status);
  document.getElementById("verdict-message").textContent = (LANG === "zh" && v.message_zh) ? v.message_zh : v.message;
  Sound.play(v.sound);
}

async function getJSON(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  return r.json();
}

async function loadOrders() {
  const data = await getJSON("/api/v1/pda/orders");
  const list = document.getElementById("order-list");
  list.innerHTML = (data.orders || []).map((o) =>
    `<button class="${o.priority ? "danger" : ""}" data-order="${esc(o.order_id)}">${esc(o.order_id)} · ${o.lines} · ${esc(o.tote || "")}${o.priority ? " · " + esc(t("priority")) : ""}</button>`).join("");
  list.querySelectorAll("button").forEach((b) => (b.onclick = () => startPick(b.dataset.order)));
  show("orders");
}

function renderPick(view) {
  CURRENT = view;
  document.getElementById("pick-order").textContent = view.order_id;
  document.getElementById("pick-tote").textContent = view.tote || "";
  const task = view.current;
  document.getElementById("task-bin").textContent = task ? task.bin : "✓";
  document.getElementById("task-bin").dataset.bin = task ? task.bin : "";
  document.getElementById("task-item").textContent = task
    ? `${t("take")} ${task.qty - task.picked} × ${task.sku} ${task.name} · ${t("lot")} ${task.lot}`
    : (view.complete ? t("into_tote") : "");
  document.getElementById("pick-list").innerHTML = (view.tasks || []).map((k, i) =>
    `<li class="${k.picked >= k.qty ? "done" : (task && i === view.current_index ? "current" : "")}">${esc(k.bin)} · ${esc(k.sku)} · ${k.picked}/${k.qty} · ${esc(k.lot)}</li>`).join("");
  document.getElementById("take-older").classList.toggle("hidden", !view.fifo);
}

async function startPick(orderId) {
  const v = await postAction("/api/v1/actions", { action: "pick", object_type: "order", object_id: orderId, device: "pda", terminal: "pda" });
  verdict(v);
  if (v.status !== "error" && v.data && v.data.pick) { renderPick(v.data.pick); show("picking"); }
}

async function scanned(code) {
  const v = await postAction("/api/v1/actions", { action: "scan", object_id: code, device: "pda", terminal: "pda" });
  verdict(v);
  if (v.data && v.data.pick) renderPick(v.data.pick);
  if (v.code === "order_picked") setTimeout(loadOrders, 1200);
}

document.addEventListener("DOMContentLoaded", async () => {
  applyI18n();
  const me = await getJSON("/api/v1/pda/me");
  document.getElementById("login-go").onclick = async () => {
    const r = await postAction("/api/v1/pda/login", { badge: document.getElementById("login-badge").value, pin: document.getElementById("login-pin").value });
    verdict(r);
    if (r.status === "ok") { ME = r.employee; document.getElementById("who").textContent = ME.name; loadOrders(); }
  };
  document.getElementById("login-pin").addEventListener("keydown", (ev) => { if (ev.key === "Enter") document.getElementById("login-go").click(); });
  document.getElementById("logout").onclick = async () => { await postAction("/api/v1/pda/logout", {}); ME = null; document.getElementById("who").textContent = ""; show("login"); };
  document.getElementById("back").onclick = loadOrders;
  document.getElementById("take-older").onclick = async () => {
    const v = await postAction("/api/v1/actions", { action: "fifo_take_older", device: "pda", terminal: "pda" });
    verdict(v); if (v.data && v.data.pick) renderPick(v.data.pick);
  };
  wedgeInput(document.getElementById("pick-input"), scanned, 300);
  if (me.employee) { ME = me.employee; document.getElementById("who").textContent = ME.name; loadOrders(); } else { show("login"); }
});
