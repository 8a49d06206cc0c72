// Kiosk page at the packing table: one screen, rendered from the station state pushed over server-sent events.
//
// * What each panel shows follows the open order: the label panel shows the label of the open carton only; after
//   a pack (or a stop) the lines give way to "Ready for the next order" and one line about the order just done;
//   the expected weight and its range show only while an order is open.
// * At most four big buttons for what applies now, the one the verdict's next step names among them; the rest are
//   in the More sheet. Every control a next step can name carries it in data-next.
// * A verdict ages back to the next step after `verdict_clear_s` on an idle table (a decision that waits -- a
//   blocked parcel, a lot, a second badge, a label to scan -- keeps its colour); a refusal that never reached the
//   station stays until the station says something newer; a good weighing stays green for at least 1.5 s.
"use strict";

let STATE = null;
let gotFirstState = false;
let highestSeq = -1;   // the newest station verdict seen
let soundedSeq = -1;   // the newest station verdict sounded (the one found at load is shown, not sounded)
const SHOWN_AT = {};   // seq -> performance.now() when it was shown (from its age when the page loaded)
let local = null;      // {verdict, after, at}: an answer that never became the station's verdict, over verdicts <= after
let drawn = null;      // {code, status, at} of what the verdict box shows
let timer = null;

const ORDER_STATES = ["order_open", "scanning", "awaiting_fifo_decision", "awaiting_second_badge", "ready_to_weigh",
                      "blocked", "weighed_ok", "label_printed"];
const STANDING = { blocked: "blocked", awaiting_fifo_decision: "prompt", awaiting_second_badge: "prompt",
                   label_printed: "prompt" };  // a decision waits: an aged verdict keeps this colour
const GREEN_HOLD_MS = 1500;
const MAX_BUTTONS = 4;
const BUTTONS = ["take-older", "put-back", "pack", "print-label", "switch-carrier", "reprint", "reweigh", "override",
                 "review-refuse", "close-carton", "cancel", "cancel-order", "sign-out"];  // the order they stand in, wherever they are
const FIRST = {  // what goes on the bar first in each state (the rest that applies is under More)
  awaiting_fifo_decision: ["take-older", "put-back", "override", "cancel"],
  awaiting_second_badge: ["put-back", "cancel"],
  blocked: ["reweigh", "override", "cancel"],
  weighed_ok: ["pack", "print-label", "reweigh", "cancel"],
  label_printed: ["reprint", "cancel"],
  order_open: ["close-carton", "cancel", "sign-out"],
  scanning: ["close-carton", "cancel", "sign-out"],
  ready_to_weigh: ["cancel", "sign-out"],
};

const $ = (id) => document.getElementById(id);
const button = (name) => $("btn-" + name);
const sessionOf = (state) => (state && state.session) || {};
const stateOf = (state) => sessionOf(state).state || "idle";

// ---- what applies now -------------------------------------------------------------------------------------------
function applicable(state) {
  const session = sessionOf(state);
  const st = stateOf(state);
  const inOrder = ORDER_STATES.includes(st);
  const fifo = st === "awaiting_fifo_decision";
  const mode = state.label_mode || "none";
  const label = labelOfCarton(state);
  return {
    "take-older": fifo && !!(session.fifo && session.fifo.older_lot),
    "put-back": fifo || st === "awaiting_second_badge",
    "pack": st === "weighed_ok" && mode !== "print",  // with the label gate the label's scan packs
    "print-label": st === "weighed_ok" && mode === "print" && (!label || label.state === "failed"),
    "switch-carrier": st === "weighed_ok" && !!state.verdict && state.verdict.code === "carrier_suspended",
    "review-refuse": inOrder && !!session.review_pending,
    "reprint": st === "label_printed",
    "reweigh": st === "blocked" || st === "weighed_ok",
    "override": st === "blocked" || fifo,
    "close-carton": st === "scanning" && mode !== "weigh_and_ship",
    "cancel": inOrder,
    "cancel-order": inOrder,
    "sign-out": !!state.operator,
  };
}

// The label of the open order's carton in hand, or null (a label of another order or carton is not shown).
function labelOfCarton(state) {
  const session = sessionOf(state);
  const label = state && state.label;
  if (!label || !session.order || !ORDER_STATES.includes(session.state)) return null;
  return label.order_id === session.order.order_id && Number(label.carton) === Number(session.carton) ? label : null;
}

function renderActions(state, verdict) {
  const ok = applicable(state);
  const session = sessionOf(state);
  const step = verdict && verdict.next;
  const named = step ? BUTTONS.filter((b) => ok[b] && (button(b).dataset.next || "").split(" ").includes(step)) : [];
  const wanted = [...(session.abandon_asked ? ["sign-out"] : []), ...named, ...(FIRST[stateOf(state)] || []), "sign-out"];
  const first = [...new Set(wanted)].filter((b) => ok[b]).slice(0, MAX_BUTTONS);
  const primary = BUTTONS.filter((b) => first.includes(b));
  const more = BUTTONS.filter((b) => ok[b] && !first.includes(b));
  place($("actions"), [...primary.map(button), ...(more.length ? [$("btn-more")] : [])]);
  place($("more-list"), more.map(button));
  place($("unused-actions"), BUTTONS.filter((b) => !ok[b]).map(button));
  BUTTONS.forEach((b) => { button(b).disabled = !ok[b]; });
  $("btn-more").classList.toggle("hidden", !more.length);
  $("actions").dataset.count = String(primary.length + (more.length ? 1 : 0));
  const signOut = button("sign-out");
  signOut.dataset.confirm = session.abandon_asked ? "1" : "";
  signOut.textContent = t(session.abandon_asked ? "sign_out_confirm" : "sign_out");
  signOut.classList.toggle("prompt", !!session.abandon_asked);
  if (!more.length && !$("more-sheet").classList.contains("hidden")) closeSheet();
}

// Put `elements` into `box` in this order, moving only what is not already where it belongs (no flicker).
function place(box, elements) {
  const now = [...box.children];
  if (now.length === elements.length && now.every((el, i) => el === elements[i])) return;
  elements.forEach((el) => box.appendChild(el));
}

// ---- the verdict ------------------------------------------------------------------------------------------------
function clearAfterMs() {
  return 1000 * Number((STATE && STATE.verdict_clear_s) || 60);
}

// The station's verdict is newer than what is shown: keep it (never go back to an older one).
function accept(v) {
  if (!v || v.seq === undefined || v.seq < highestSeq) return false;
  if (v.seq > highestSeq || !STATE.verdict) {
    highestSeq = v.seq;
    STATE.verdict = v;
  }
  if (SHOWN_AT[v.seq] === undefined) SHOWN_AT[v.seq] = performance.now();
  return true;
}

// A verdict that describes the decision the table waits for keeps showing however long it waits.
function standing(v, state) {
  const st = stateOf(state);
  return !!STANDING[st] && v.status !== "error" && v.next === sessionOf(state).next;
}

// What the box shows when no verdict is fresh: the devices that need a hand, else the next step of the state.
function resting(state) {
  const st = stateOf(state);
  const next = sessionOf(state).next || (state && state.operator ? "scan_order" : "tap_badge");
  if (!ORDER_STATES.includes(st)) {
    const devices = devicesVerdict(state);
    if (devices) return devices;
  }
  const said = known("next:" + next) ? t("next:" + next) : "";
  if (STANDING[st]) {
    const what = t("state:" + st);
    const message = LANG === "zh" ? `${what}。${said}` : `${sentence(what)}. ${said}`;
    return { status: STANDING[st], code: "", next, message, message_zh: message, title: t("status:" + STANDING[st]) };
  }
  return { status: "idle", code: "", next, message: said, message_zh: said, title: t("ready") };
}

// "Badge reader: disconnected — plug it in; …" for every configured device that is not connected.
// A device's warnings (a printer's ribbon or labels running low) in the page's language.
function noticesText(device) {
  return (device.notices || []).map((n) => (LANG === "zh" && n.message_zh) || n.message).join(" · ");
}

// Every configured device that is not connected, with what to do, and the warnings of those that are
// ("Label printer: ribbon running low: have a new ribbon ready").
function deviceProblems(devices) {
  return Object.entries(devices || {}).filter(([, d]) => d.state !== "connected" || (d.notices || []).length)
    .map(([name, d]) => d.state === "connected" ? `${t("device_name:" + name)}: ${noticesText(d)}`
      : `${t("device_name:" + name)}: ${t("device:" + d.state)} — ${t("device:fix_" + d.state)}`);
}

function devicesVerdict(state) {
  const problems = deviceProblems(state && state.devices);
  if (!problems.length) return null;
  const text = problems.join(" · ");
  return { status: "prompt", code: "devices", next: "", message: text, message_zh: text };
}

function display() {
  clearTimeout(timer);
  timer = null;
  if (!STATE) return;
  const now = performance.now();
  const v = STATE.verdict;
  let shown = null;
  let own = false;
  let until = Infinity;
  if (local && !(v && v.seq > local.after)) {
    shown = local.verdict;
    until = local.at + clearAfterMs();
  } else if (v) {
    local = null;
    shown = v;
    const at = SHOWN_AT[v.seq] !== undefined ? SHOWN_AT[v.seq] : now;
    until = standing(v, STATE) ? Infinity : at + clearAfterMs();
  }
  if (shown && now >= until) shown = null;
  if (!shown) {
    shown = resting(STATE);
    own = true;
  }
  // a good weighing is seen green: a prompt that follows it at once waits until it has been up GREEN_HOLD_MS
  if (drawn && drawn.code === "weight_ok" && shown.status === "prompt" && now < drawn.at + GREEN_HOLD_MS) {
    timer = setTimeout(display, drawn.at + GREEN_HOLD_MS - now + 5);
    return;
  }
  let fresh = false;  // new since it was last drawn: flash and sound it
  if (!own) fresh = shown.seq !== undefined ? shown.seq > soundedSeq : !local.sounded;
  showVerdict(shown, { own, flash: fresh });
  if (shown.title) $("verdict-title").textContent = shown.title;
  if (!drawn || drawn.code !== shown.code || drawn.status !== shown.status || fresh) drawn = { code: shown.code, status: shown.status, at: now };
  if (fresh) {
    Sound.play(shown.sound);
    if (shown.seq !== undefined) soundedSeq = shown.seq; else local.sounded = true;
  }
  $("device-alert").classList.toggle("hidden", shown.code === "devices" || !deviceProblems(STATE.devices).length);
  renderActions(STATE, shown);
  if (until !== Infinity && until > now) timer = setTimeout(display, until - now + 20);
}

// ---- the panels -------------------------------------------------------------------------------------------------
function expectedRange(session) {
  if (!session || !ORDER_STATES.includes(session.state)) return null;
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
  const w = $("weight");
  const st = $("stability");
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
    w.textContent = "—"; w.className = "weight fault"; st.textContent = t("device:not_responding");
    return;
  }
  w.textContent = s.weight != null ? `${s.weight} ${s.unit || ""}` : "—";
  w.dataset.grams = s.grams || "";
  w.dataset.stable = s.stable ? "1" : "0";
  let cls = "weight" + (s.stable ? "" : " unstable");
  const e = expectedRange(sessionOf(STATE));
  if (e && s.stable && s.grams != null && Number(s.grams) > 0) {
    const g = Number(s.grams);
    cls += g >= Number(e.low_g) && g <= Number(e.high_g) ? " inrange" : " outrange";
  }
  w.className = cls;
  st.textContent = s.stable ? t("stable") : t("moving");
}

function renderOrder(state) {
  const op = $("operator");
  op.innerHTML = state.operator ? `<span data-value>${esc(state.operator.name)}</span> · ${esc(t(state.operator.role + "_role"))}`
    : esc(t("tap_badge"));
  op.dataset.employee = state.operator ? state.operator.employee_id : "";
  op.classList.toggle("on", !!state.operator);
  op.removeAttribute("data-i18n");
  const session = sessionOf(state);
  const st = stateOf(state);
  document.body.dataset.state = st;
  const open = ORDER_STATES.includes(st) ? session.order : null;
  $("order-id").textContent = open ? open.order_id : "—";
  $("tote").textContent = open && open.tote ? open.tote : "—";
  $("packaging").textContent = open && session.packaging ? `${session.packaging.code} (${session.packaging.tare_g} g)` : "—";
  const done = session.done;
  $("finished").classList.toggle("hidden", !done);
  document.querySelector("#lines-scroll table").classList.toggle("hidden", !!done);
  if (done) {
    $("finished-summary").textContent = fill(t("summary_" + done.outcome), done);
    $("finished").dataset.order = done.order_id;
  }
  const body = $("lines");
  const lastSku = state.verdict && state.verdict.data ? state.verdict.data.sku : null;
  if (!open) {
    body.innerHTML = `<tr><td colspan="3" class="muted">${esc(state.operator ? t("no_order") : t("tap_badge"))}</td></tr>`;
  } else {
    body.innerHTML = (session.lines || []).map((l) => {
      const cls = [l.scanned >= l.qty ? "done" : "", l.special ? "special" : "", l.sku === lastSku ? "last" : ""].join(" ").trim();
      return `<tr class="${cls}" data-sku="${esc(l.sku)}">` +
        `<td class="sku" data-value>${esc(l.sku)}</td><td data-value>${esc(l.name)}</td>` +
        `<td class="count num">${l.scanned} / ${l.qty}</td></tr>`;
    }).join("");
    const last = body.querySelector("tr.last");
    if (last) last.scrollIntoView({ block: "nearest" });
  }
  const exp = $("expected");
  const e = expectedRange(session);
  exp.innerHTML = e ? `<span>${esc(t("expected"))} <b>${esc(e.expected_g)} g</b></span>` +
    `<span>${esc(fill(t("allowed_range"), { low: e.low_g, high: e.high_g }))}</span>` : "";
}

// Every configured device with its state, in the words of /healthz and the supervisor page.
function renderDevices(devices) {
  const box = $("devices");
  box.innerHTML = Object.entries(devices || {}).map(([name, d]) =>
    `<div class="device ${esc(d.state)}" data-device="${esc(name)}" data-state="${esc(d.state)}">` +
    `<b>${esc(t("device_name:" + name))}</b> ${esc(t("device:" + d.state))}</div>`).join("");
  $("device-alert").textContent = deviceProblems(devices).join(" · ");
}

function renderLabel(state) {
  const printer = (state.devices || {}).printer;
  const mode = state.label_mode || "none";
  const panel = $("label-panel");
  panel.classList.toggle("hidden", mode === "none" && !printer);
  $("panels").classList.toggle("no-label", panel.classList.contains("hidden"));
  const label = labelOfCarton(state);
  const st = $("label-state");
  st.dataset.state = label ? label.state : "";
  st.dataset.order = label ? label.order_id : "";
  const waiting = mode === "print" && ORDER_STATES.includes(stateOf(state));
  st.textContent = label ? `${t("carton")} ${label.carton} · ${t("label_" + label.state)}` : waiting ? t("label_after_weighing") : "—";
  $("label-waybill").textContent = label && label.waybill ? label.waybill : "";
  const img = $("label-preview");
  const src = label && label.preview && label.state !== "failed" ? label.preview : "";
  if (src && img.getAttribute("src") !== src) img.setAttribute("src", src);
  if (!src) img.removeAttribute("src");
  img.classList.toggle("hidden", !src);
  const p = $("printer-state");
  p.dataset.state = printer ? printer.state : "";
  const notices = printer ? noticesText(printer) : "";
  p.textContent = printer ? `${t("printer")}: ${t("printer_" + printer.state)}` +
    (printer.detail && LANG === "en" && printer.state !== "connected" ? ` — ${printer.detail}` : "") +
    (notices ? ` · ${notices}` : "") : "";
  p.className = "printer-state" + (printer && printer.state !== "connected" ? " fault" : notices ? " warning" : " muted");
}

// The site hub measures this PC's clock at every heartbeat; past the site's threshold the packer is told to call IT.
function renderClock(clock) {
  const alert = $("clock-alert");
  const off = clock && clock.warning;
  alert.classList.toggle("hidden", !off);
  if (!off) return;
  const seconds = Math.round(Math.abs(clock.offset_s));
  const sign = clock.offset_s < 0 ? "−" : "+";
  const amount = seconds >= 60 ? `${Math.floor(seconds / 60)} ${t("unit_min")} ${seconds % 60} ${t("unit_s")}` : `${seconds} ${t("unit_s")}`;
  alert.textContent = `${t("clock_off")} ${sign}${amount} — ${t("clock_fix")}`;
}

function renderSync(s) {
  const sync = $("sync");
  s = s || {};
  sync.textContent = `${s.depth || 0} ${t("queue")}` + (s.dead ? ` · ${s.dead} ${t("dead")}` : "") + (s.online === false ? ` · ${t("offline")}` : "");
  sync.className = "pill" + (s.dead ? " dead" : s.online === false ? " offline" : "");
  sync.dataset.online = s.online === false ? "0" : "1";
}

function renderPriority(orders) {
  $("priority").classList.toggle("hidden", !orders.length);
  $("priority-list").textContent = orders.map((o) => o.tote ? `${o.order_id} (${t("tote")} ${o.tote})` : o.order_id).join(" · ");
}

function render(state) {
  const first = !gotFirstState;
  gotFirstState = true;
  const previous = STATE && STATE.verdict;
  STATE = state;
  const v = state.verdict;
  if (v && previous && v.seq !== undefined && previous.seq !== undefined && v.seq < previous.seq) STATE.verdict = previous;
  if (v && v.seq !== undefined && SHOWN_AT[v.seq] === undefined) {
    SHOWN_AT[v.seq] = performance.now() - 1000 * Number(state.verdict_age_s || 0);
  }
  if (v && v.seq !== undefined) highestSeq = Math.max(highestSeq, v.seq);
  if (first && v && v.seq !== undefined) soundedSeq = v.seq;  // found at load: shown, not sounded again
  if (state.last_scan) $("last-scan").textContent = state.last_scan.raw;
  renderOrder(state);
  renderDevices(state.devices || {});
  renderLabel(state);
  renderSync(state.sync);
  renderClock(state.site_clock);
  renderPriority(state.priority_orders || []);
  renderScale(state.scale);
  display();
}

window.onLangChange = () => STATE && render(STATE);

// ---- acting -----------------------------------------------------------------------------------------------------
async function act(body) {
  const v = await postAction("/api/v1/actions", Object.assign({ device: "kiosk" }, body), 3, { reopen: true });
  if (v && v.status) {
    if (v.seq === undefined) {  // never became the station's verdict (refused at the door, network, replayed)
      local = { verdict: v, after: highestSeq, at: performance.now(), sounded: false };
    } else {
      accept(v);
    }
    display();
  }
  refocus();
  return v;
}

function refocus() {
  const i = $("scan-input");
  if (document.body.classList.contains("modal-open")) return;
  if (document.activeElement !== i && !document.querySelector(".demo input:focus, .demo select:focus")) i.focus();
}

function openSheet() {
  $("more-sheet").classList.remove("hidden");
  document.body.classList.add("modal-open");
}

function closeSheet() {
  $("more-sheet").classList.add("hidden");
  document.body.classList.remove("modal-open");
}

// A preset reason goes to the station in English (the words upstream and the audit keep); the pages show it in
// the reader's language from the catalog.
async function reason(titleKey, presets) {
  const chosen = await askReason(titleKey, presets);
  if (!chosen) return null;
  const preset = presets.find((k) => t(k) === chosen);
  return preset ? (TEXTS.en["page:" + preset] || chosen) : chosen;
}

document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  postAction("/api/v1/returns/mode", { mode: "pack" });  // this screen packs: the table's scanner packs too
  const input = $("scan-input");
  const submit = wedgeInput(input, (code) => {
    $("last-scan").textContent = code.replace(/\x1d/g, "<GS>");
    act({ action: "scan", object_id: code });
  }, { idleMs: 250 });
  $("scan-send").onclick = submit;
  button("reweigh").onclick = () => act({ action: "reweigh" });
  button("take-older").onclick = () => act({ action: "fifo_take_older" });
  button("put-back").onclick = () => act({ action: "put_back" });
  button("pack").onclick = () => act({ action: "pack" });
  button("sign-out").onclick = (ev) => act({ action: "sign_out", payload: { confirm: ev.currentTarget.dataset.confirm === "1" } });
  button("close-carton").onclick = () => act({ action: "close_carton" });
  button("print-label").onclick = () => act({ action: "print_label" });
  button("switch-carrier").onclick = () => act({ action: "switch_carrier" });
  button("review-refuse").onclick = async () => {  // the supervisor then taps their badge (or it is refused: no tap)
    const why = await reason("review_refuse_title", ["r_customer"]);
    if (why) act({ action: "review", payload: { decision: "refuse", reason: why } }); else refocus();
  };
  button("reprint").onclick = async () => {
    const why = await reason("reprint", ["r_torn"]);
    if (why) act({ action: "reprint", payload: { reason: why } }); else refocus();
  };
  button("cancel").onclick = async () => {
    const why = await reason("stop_title", ["r_stock", "r_wrong_label", "r_box"]);
    if (why) act({ action: "cancel", payload: { reason: why, scope: "pack_session" } }); else refocus();
  };
  button("cancel-order").onclick = async () => {
    const why = await reason("cancel_order_title", ["r_customer", "r_duplicate"]);
    if (why) act({ action: "cancel", payload: { reason: why, scope: "order" } }); else refocus();
  };
  button("override").onclick = async () => {
    const fifo = stateOf(STATE) === "awaiting_fifo_decision";
    const why = await reason("override_title", fifo ? ["r_damaged", "r_wrong_label"] : ["r_flyer", "r_box", "r_catalog"]);
    if (why) act({ action: "override", payload: { reason: why } }); else refocus();
  };
  $("btn-more").onclick = openSheet;
  $("more-close").onclick = () => { closeSheet(); refocus(); };
  $("more-list").addEventListener("click", (ev) => { if (ev.target.closest("button")) closeSheet(); }, { capture: true });
  const demo = $("demo-panel");
  if (demo) {
    const hint = $("demo-hint");
    const demoPost = async (path, body) => {
      const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() }, body: JSON.stringify(body) });
      const data = await r.json();
      hint.textContent = (LANG === "zh" && data.message_zh) || data.message || "";
      refocus();
    };
    $("demo-tap").onclick = () => demoPost("/api/v1/demo/tap", { uid: $("demo-badge").value });
    $("demo-scan").onclick = () => { const c = $("demo-code"); demoPost("/api/v1/demo/scan", { code: c.value }); c.value = ""; };
    $("demo-code").addEventListener("keydown", (ev) => { if (ev.key === "Enter") $("demo-scan").click(); });
    $("demo-grams").addEventListener("keydown", (ev) => { if (ev.key === "Enter") $("demo-weigh").click(); });
    $("demo-weigh").onclick = () => demoPost("/api/v1/demo/scale", { grams: $("demo-grams").value });
    $("demo-clear").onclick = () => demoPost("/api/v1/demo/scale", { grams: "0" });
  }
  liveEvents("/api/v1/events", {
    state: (s) => render(s),
    scale: (s) => { if (STATE) STATE.scale = s; renderScale(s); },
    verdict: (v) => { if (STATE && accept(v)) display(); },
    sync: (s) => { if (STATE) STATE.sync = s; renderSync(s); },
    label: (l) => { if (STATE) { STATE.label = l; renderLabel(STATE); display(); } },
    devices: (d) => { if (STATE) { STATE.devices = d; renderDevices(d); renderLabel(STATE); display(); } },
  });
  document.addEventListener("click", (ev) => { if (!ev.target.closest(".demo, #reason-dialog, #more-sheet")) setTimeout(refocus, 0); });
});
