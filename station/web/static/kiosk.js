// Kiosk page at the packing table: renders the station state pushed over server-sent events.
"use strict";

let STATE = null;
let lastVerdictSeq = null;
let gotFirstState = false;

const ORDER_STATES = ["order_open", "scanning", "awaiting_fifo_decision", "awaiting_second_badge", "ready_to_weigh",
                      "blocked", "weighed_ok", "label_printed"];

function renderLabel(label, printer, st) {
  document.getElementById("label-panel").classList.toggle("hidden", !label && !printer);
  const state = document.getElementById("label-state");
  const img = document.getElementById("label-preview");
  state.dataset.state = label ? label.state : "";
  state.textContent = label ? `${t("carton")} ${label.carton} · ${t("label_" + label.state)}` : "—";
  document.getElementById("label-waybill").textContent = label && label.waybill ? label.waybill : "";
  const src = label && label.preview && label.state !== "failed" ? label.preview : "";
  if (src && img.getAttribute("src") !== src) img.setAttribute("src", src);
  img.classList.toggle("hidden", !src);
  const p = document.getElementById("printer-state");
  p.dataset.state = printer ? printer.state : "";
  p.textContent = printer ? `${t("printer")}: ${t("printer_" + printer.state)}${printer.detail ? " — " + printer.detail : ""}` : "";
  p.className = "printer-state" + (printer && printer.state !== "connected" ? " fault" : " muted");
  document.getElementById("btn-close-carton").disabled = st !== "scanning";
  document.getElementById("btn-print-label").disabled = !(st === "weighed_ok" && (!label || label.state === "failed"));
  document.getElementById("btn-reprint").disabled = st !== "label_printed";
}

// `initial`: the state the page found when it (re)loaded; its verdict is shown but not sounded again.
function renderVerdict(v, initial) {
  const fresh = !!v && (v.seq === undefined || v.seq !== lastVerdictSeq);
  showVerdict(v || devicesVerdict(), { idleMessage: STATE && STATE.operator ? t("no_order") : t("tap_badge"), flash: fresh && !initial });
  if (!fresh) return;
  // The verdict must be seen: bring it back if the page was scrolled (e.g. down to the demo panel).
  if (!initial && document.getElementById("verdict").getBoundingClientRect().top < 0) window.scrollTo({ top: 0 });
  if (!initial) Sound.play(v.sound);
  if (v.seq !== undefined) lastVerdictSeq = v.seq;  // no seq: an answer that never reached the station (e.g. network)
}

// The allowed weight range: from the session (before weighing) or from the last weighing's record.
function expectedRange(session) {
  if (!session) return null;
  if (session.expected) return session.expected;
  const w = session.weight;
  if (w && w.expected_g != null && w.allowed_g != null) {
    const e = Number(w.expected_g), a = Number(w.allowed_g);  // rounded inward, like the server's range
    return { expected_g: e.toFixed(1), allowed_g: (Math.floor(a * 10) / 10).toFixed(1),
             low_g: (Math.ceil((e - a) * 10) / 10).toFixed(1), high_g: (Math.floor((e + a) * 10) / 10).toFixed(1) };
  }
  return null;
}

function renderScale(s) {
  const w = document.getElementById("weight");
  const st = document.getElementById("stability");
  w.dataset.grams = "";
  w.dataset.stable = "";
  if (!s || !s.connected) {
    w.textContent = "—"; w.className = "weight fault"; st.textContent = t("device:disconnected");
    return;
  }
  if (s.state === "not_responding") {
    w.textContent = "—"; w.className = "weight fault"; st.textContent = t("scale_not_responding");
    return;
  }
  if (s.status === "overload" || s.status === "underload" || s.status === "error") {
    w.textContent = s.status.toUpperCase(); w.className = "weight fault"; st.textContent = s.reason || s.status;
    return;
  }
  w.textContent = s.weight != null ? `${s.weight} ${s.unit || ""}` : "—";
  w.dataset.grams = s.grams || "";
  w.dataset.stable = s.stable ? "1" : "0";
  let cls = "weight" + (s.stable ? "" : " unstable");
  const e = expectedRange(STATE && STATE.session);
  if (e && s.stable && s.grams != null && Number(s.grams) > 0) {
    const g = Number(s.grams);
    cls += g >= Number(e.low_g) && g <= Number(e.high_g) ? " inrange" : " outrange";
  }
  w.className = cls;
  st.textContent = s.stable ? t("stable") : t("moving");
}

function renderSession(state) {
  const op = document.getElementById("operator");
  op.textContent = state.operator ? `${state.operator.name} · ${t(state.operator.role + "_role")}` : t("tap_badge");
  op.dataset.employee = state.operator ? state.operator.employee_id : "";
  op.classList.toggle("on", !!state.operator);
  const session = state.session || {};
  const order = session.order;
  document.body.dataset.state = session.state || "idle";
  document.getElementById("order-id").textContent = order ? order.order_id : "—";
  document.getElementById("tote").textContent = order && order.tote ? order.tote : "—";
  document.getElementById("packaging").textContent = session.packaging ? `${session.packaging.code} (${session.packaging.tare_g} g)` : "—";
  const body = document.getElementById("lines");
  const v = state.verdict;
  const lastSku = v && v.data ? v.data.sku : null;
  if (!order) {
    body.innerHTML = `<tr><td colspan="3" class="muted">${esc(state.operator ? t("no_order") : t("tap_badge"))}</td></tr>`;
  } else {
    body.innerHTML = (session.lines || []).map((l) => {
      const cls = [l.scanned >= l.qty ? "done" : "", l.special ? "special" : "", l.sku === lastSku ? "last" : ""].join(" ").trim();
      return `<tr class="${cls}" data-sku="${esc(l.sku)}">` +
        `<td class="sku">${esc(l.sku)}</td><td>${esc(l.name)}</td>` +
        `<td class="count num">${l.scanned} / ${l.qty}</td></tr>`;
    }).join("");
  }
  const exp = document.getElementById("expected");
  const e = order ? expectedRange(session) : null;
  if (e) {
    exp.innerHTML = `<span>${esc(t("expected"))} <b>${esc(e.expected_g)} g</b></span>` +
      `<span>${esc(t("allowed"))} ${esc(e.low_g)}–${esc(e.high_g)} g</span>`;
  } else {
    exp.textContent = "";
  }
  const st = session.state || "idle";
  const fifo = st === "awaiting_fifo_decision";
  document.getElementById("btn-take-older").disabled = !(fifo && session.fifo && session.fifo.older_lot);
  document.getElementById("btn-put-back").disabled = !(fifo || st === "awaiting_second_badge");
  document.getElementById("btn-pack").disabled = st !== "weighed_ok" || !!state.label;  // label: the scan packs
  document.getElementById("btn-reweigh").disabled = !["blocked", "weighed_ok"].includes(st);
  document.getElementById("btn-override").disabled = !["blocked", "awaiting_fifo_decision"].includes(st);
  document.getElementById("btn-cancel").disabled = !ORDER_STATES.includes(st);
  document.getElementById("btn-cancel-order").disabled = !ORDER_STATES.includes(st);
  const signOut = document.getElementById("btn-sign-out");
  signOut.disabled = !state.operator;
  signOut.dataset.confirm = session.abandon_asked ? "1" : "";
  signOut.textContent = t(session.abandon_asked ? "sign_out_confirm" : "sign_out");
  signOut.classList.toggle("prompt", !!session.abandon_asked);
  renderDevices(state.devices || {});
  renderLabel(state.label, (state.devices || {}).printer, st);
  renderSync(state.sync);
  renderClock(state.site_clock);
}

// The site hub measures this PC's clock at every heartbeat; past the site's threshold the packer is told to call IT.
function renderClock(clock) {
  const alert = document.getElementById("clock-alert");
  const off = clock && clock.warning;
  alert.classList.toggle("hidden", !off);
  if (!off) return;
  const seconds = Math.round(Math.abs(clock.offset_s));
  const sign = clock.offset_s < 0 ? "−" : "+";
  const amount = seconds >= 60 ? `${Math.floor(seconds / 60)} ${t("unit_min")} ${seconds % 60} ${t("unit_s")}` : `${seconds} ${t("unit_s")}`;
  alert.textContent = `${t("clock_off")} ${sign}${amount} — ${t("clock_fix")}`;
}

// Every configured device with its state, in the words of /healthz and the supervisor page.
function renderDevices(devices) {
  const box = document.getElementById("devices");
  box.innerHTML = Object.entries(devices).map(([name, d]) =>
    `<div class="device ${esc(d.state)}" data-device="${esc(name)}" data-state="${esc(d.state)}">` +
    `<b>${esc(t("device_name:" + name))}</b> ${esc(t("device:" + d.state))}</div>`).join("");
  const problems = deviceProblems(devices);
  const alert = document.getElementById("device-alert");
  alert.classList.toggle("hidden", !problems.length);
  alert.textContent = problems.join(" · ");
}

// "Badge reader: disconnected — plug it in, …" for every configured device that is not connected.
function deviceProblems(devices) {
  return Object.entries(devices || {}).filter(([, d]) => d.state !== "connected")
    .map(([name, d]) => `${t("device_name:" + name)}: ${t("device:" + d.state)} — ${t("device:fix_" + d.state)}`);
}

// With nothing to show, the kiosk is not "Ready" while a device is missing: it says which one and what to do.
function devicesVerdict() {
  const problems = deviceProblems(STATE && STATE.devices);
  if (!problems.length) return null;
  const text = problems.join(" · ");
  return { status: "prompt", code: "devices", message: text, message_zh: text };
}

function renderSync(s) {
  const sync = document.getElementById("sync");
  s = s || {};
  sync.textContent = `${s.depth || 0} ${t("queue")}` + (s.dead ? ` · ${s.dead} ${t("dead")}` : "") + (s.online === false ? ` · ${t("offline")}` : "");
  sync.className = "pill" + (s.dead ? " dead" : s.online === false ? " offline" : "");
  sync.dataset.online = s.online === false ? "0" : "1";
}

function renderPriority(orders) {
  const box = document.getElementById("priority");
  box.classList.toggle("hidden", !orders.length);
  document.getElementById("priority-list").textContent =
    orders.map((o) => o.tote ? `${o.order_id} (${t("tote")} ${o.tote})` : o.order_id).join(" · ");
}

function render(state, initial) {
  STATE = state;
  if (state.last_scan) document.getElementById("last-scan").textContent = state.last_scan.raw;
  renderSession(state);
  renderPriority(state.priority_orders || []);
  renderScale(state.scale);
  renderVerdict(state.verdict, initial);
}

window.onLangChange = () => STATE && render(STATE, true);

async function act(body) {
  const verdict = await postAction("/api/v1/actions", Object.assign({ device: "kiosk" }, body));
  // The pushed state carries the verdict too; show it at once so the answer never waits on the stream.
  const shown = STATE && STATE.verdict;
  const stale = shown && shown.seq !== undefined && verdict && verdict.seq !== undefined && verdict.seq < shown.seq;
  if (verdict && verdict.status && !stale) {  // a newer verdict may already have arrived on the stream
    if (STATE) STATE.verdict = verdict;
    renderVerdict(verdict, false);
  }
  refocus();
  return verdict;
}

function refocus() {
  const i = document.getElementById("scan-input");
  if (document.body.classList.contains("modal-open")) return;
  if (document.activeElement !== i && !document.querySelector("details.demo input:focus, details.demo select:focus")) i.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  const input = document.getElementById("scan-input");
  const submit = wedgeInput(input, (code) => {
    document.getElementById("last-scan").textContent = code.replace(/\x1d/g, "<GS>");
    act({ action: "scan", object_id: code });
  }, { idleMs: 250 });
  document.getElementById("scan-send").onclick = submit;
  document.getElementById("btn-reweigh").onclick = () => act({ action: "reweigh" });
  document.getElementById("btn-take-older").onclick = () => act({ action: "fifo_take_older" });
  document.getElementById("btn-put-back").onclick = () => act({ action: "put_back" });
  document.getElementById("btn-pack").onclick = () => act({ action: "pack" });
  document.getElementById("btn-sign-out").onclick = (ev) =>
    act({ action: "sign_out", payload: { confirm: ev.currentTarget.dataset.confirm === "1" } });
  document.getElementById("btn-close-carton").onclick = () => act({ action: "close_carton" });
  document.getElementById("btn-print-label").onclick = () => act({ action: "print_label" });
  document.getElementById("btn-reprint").onclick = async () => {
    const reason = await askReason("reprint", ["r_torn"]);
    if (reason) act({ action: "reprint", payload: { reason } }); else refocus();
  };
  document.getElementById("btn-cancel").onclick = async () => {
    const reason = await askReason("stop_title", ["r_stock", "r_wrong_label", "r_box"]);
    if (reason) act({ action: "cancel", payload: { reason, scope: "pack_session" } }); else refocus();
  };
  document.getElementById("btn-cancel-order").onclick = async () => {
    const reason = await askReason("cancel_order_title", ["r_customer", "r_duplicate"]);
    if (reason) act({ action: "cancel", payload: { reason, scope: "order" } }); else refocus();
  };
  document.getElementById("btn-override").onclick = async () => {
    const fifo = STATE && STATE.session && STATE.session.state === "awaiting_fifo_decision";
    const reason = await askReason("override_title", fifo ? ["r_damaged", "r_wrong_label"] : ["r_flyer", "r_box", "r_catalog"]);
    if (reason) act({ action: "override", payload: { reason } }); else refocus();
  };
  const demo = document.getElementById("demo-panel");
  if (demo) {
    const hint = document.getElementById("demo-hint");
    const demoPost = async (path, body) => {
      const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() }, body: JSON.stringify(body) });
      const data = await r.json();
      hint.textContent = (LANG === "zh" && data.message_zh) || data.message || "";
      refocus();
    };
    document.getElementById("demo-tap").onclick = () => demoPost("/api/v1/demo/tap", { uid: document.getElementById("demo-badge").value });
    document.getElementById("demo-scan").onclick = () => { const c = document.getElementById("demo-code"); demoPost("/api/v1/demo/scan", { code: c.value }); c.value = ""; };
    document.getElementById("demo-code").addEventListener("keydown", (ev) => { if (ev.key === "Enter") document.getElementById("demo-scan").click(); });
    document.getElementById("demo-grams").addEventListener("keydown", (ev) => { if (ev.key === "Enter") document.getElementById("demo-weigh").click(); });
    document.getElementById("demo-weigh").onclick = () => demoPost("/api/v1/demo/scale", { grams: document.getElementById("demo-grams").value });
    document.getElementById("demo-clear").onclick = () => demoPost("/api/v1/demo/scale", { grams: "0" });
  }
  liveEvents("/api/v1/events", {
    state: (s) => { const first = !gotFirstState; gotFirstState = true; render(s, first); },
    scale: (s) => { if (STATE) { STATE.scale = s; } renderScale(s); },
    verdict: (v) => { if (STATE) STATE.verdict = v; renderVerdict(v, false); },
    sync: (s) => { if (STATE) STATE.sync = s; renderSync(s); },
    label: (l) => { if (STATE) { STATE.label = l; renderLabel(l, (STATE.devices || {}).printer, (STATE.session || {}).state); } },
    devices: (d) => { if (STATE) { STATE.devices = d; renderDevices(d); renderVerdict(STATE.verdict, true); } },
  });
  document.addEventListener("click", (ev) => { if (!ev.target.closest("details.demo, #reason-dialog")) setTimeout(refocus, 0); });
});
