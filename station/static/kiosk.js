// Kiosk page at the packing table: renders the station state pushed over server-sent events.
"use strict";

let STATE = null;
let lastVerdictSeq = null;

function verdictTitle(v) { return t(v.status === "ok" ? "ok" : v.status); }

function renderVerdict(v) {
  const box = document.getElementById("verdict");
  if (!v) {
    box.className = "idle"; box.dataset.status = "idle"; box.dataset.code = "";
    document.getElementById("verdict-title").textContent = t("ready");
    document.getElementById("verdict-message").textContent = STATE && STATE.operator ? t("no_order") : t("tap_badge");
    document.getElementById("verdict-next").textContent = "";
    return;
  }
  box.className = v.status;
  box.dataset.status = v.status;
  box.dataset.code = v.code || "";
  document.getElementById("verdict-title").textContent = verdictTitle(v);
  document.getElementById("verdict-message").textContent = (LANG === "zh" && v.message_zh) ? v.message_zh : v.message;
  document.getElementById("verdict-next").textContent = (LANG === "zh" && v.next_text_zh) ? v.next_text_zh : (v.next_text || "");
  if (v.seq !== undefined && v.seq !== lastVerdictSeq) {
    if (lastVerdictSeq !== null) Sound.play(v.sound);
    lastVerdictSeq = v.seq;
  }
}

function renderScale(s) {
  const w = document.getElementById("weight");
  const st = document.getElementById("stability");
  if (!s || !s.connected) {
    w.textContent = "—"; w.className = "weight fault"; st.textContent = t("disconnected"); w.dataset.grams = "";
    return;
  }
  if (s.status === "overload" || s.status === "underload" || s.status === "error") {
    w.textContent = s.status.toUpperCase(); w.className = "weight fault"; st.textContent = s.reason || s.status;
    w.dataset.grams = "";
    return;
  }
  w.textContent = s.weight != null ? `${s.weight} ${s.unit || ""}` : "—";
  w.dataset.grams = s.grams || "";
  w.dataset.stable = s.stable ? "1" : "0";
  w.className = "weight" + (s.stable ? "" : " unstable");
  st.textContent = s.stable ? t("stable") : t("moving");
}

function renderSession(state) {
  const op = document.getElementById("operator");
  op.textContent = state.operator ? `${state.operator.name} · ${state.operator.role}` : t("tap_badge");
  op.dataset.employee = state.operator ? state.operator.employee_id : "";
  const session = state.session || {};
  const order = session.order;
  document.getElementById("order-id").textContent = order ? order.order_id : "—";
  document.getElementById("tote").textContent = order && order.tote ? order.tote : "—";
  document.getElementById("packaging").textContent = session.packaging ? `${session.packaging.code} (${session.packaging.tare_g} g)` : "—";
  const body = document.getElementById("lines");
  if (!order) {
    body.innerHTML = `<tr><td colspan="3" class="muted">${esc(t("no_order"))}</td></tr>`;
  } else {
    body.innerHTML = (session.lines || []).map((l) =>
      `<tr class="${l.scanned >= l.qty ? "done" : ""} ${l.special ? "special" : ""}" data-sku="${esc(l.sku)}">` +
      `<td>${esc(l.sku)}</td><td>${esc(l.name)}</td>` +
      `<td class="count">${l.scanned} / ${l.qty}</td></tr>`).join("");
  }
  const exp = document.getElementById("expected");
  if (session.expected) {
    const e = session.expected;
    exp.textContent = `${t("expected")} ${e.expected_g} g (${t("allowed")} ${e.low_g}–${e.high_g} g)`;
  } else {
    exp.textContent = "";
  }
  document.getElementById("btn-take-older").classList.toggle("hidden", !session.fifo);
  const sync = document.getElementById("sync");
  const s = state.sync || {};
  sync.textContent = `${s.depth || 0} ${t("queue")}` + (s.dead ? ` · ${s.dead} ${t("dead")}` : "") + (s.online === false ? ` · ${t("offline")}` : "");
  sync.className = "pill" + (s.dead ? " dead" : s.online === false ? " offline" : "");
}

function render(state) {
  STATE = state;
  renderSession(state);
  renderScale(state.scale);
  renderVerdict(state.verdict);
}

window.onLangChange = () => STATE && render(STATE);

async function act(body) {
  const verdict = await postAction("/api/v1/actions", Object.assign({ device: "kiosk" }, body));
  // The pushed state carries the verdict too; render at once so the answer never waits on the stream.
  if (verdict && STATE) { STATE.verdict = verdict; renderVerdict(verdict); }
  refocus();
  return verdict;
}

function refocus() { const i = document.getElementById("scan-input"); if (document.activeElement !== i && !document.querySelector("details.demo input:focus, details.demo select:focus")) i.focus(); }

document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  const input = document.getElementById("scan-input");
  const submit = wedgeInput(input, (code) => act({ action: "scan", object_id: code }), 250);
  document.getElementById("scan-send").onclick = submit;
  document.getElementById("btn-reweigh").onclick = () => act({ action: "reweigh" });
  document.getElementById("btn-take-older").onclick = () => act({ action: "fifo_take_older" });
  document.getElementById("btn-sign-out").onclick = () => act({ action: "sign_out" });
  document.getElementById("btn-cancel").onclick = () => {
    const reason = window.prompt(t("reason"));
    if (reason) act({ action: "cancel", payload: { reason } });
  };
  document.getElementById("btn-override").onclick = () => {
    const reason = window.prompt(t("reason"));
    if (reason) act({ action: "override", payload: { reason } });
  };
  const demo = document.getElementById("demo-panel");
  if (demo) {
    const hint = document.getElementById("demo-hint");
    const demoPost = async (path, body) => {
      const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() }, body: JSON.stringify(body) });
      const data = await r.json();
      hint.textContent = data.message || "";
      refocus();
    };
    document.getElementById("demo-tap").onclick = () => demoPost("/api/v1/demo/tap", { uid: document.getElementById("demo-badge").value });
    document.getElementById("demo-scan").onclick = () => { const c = document.getElementById("demo-code"); demoPost("/api/v1/demo/scan", { code: c.value }); c.value = ""; };
    document.getElementById("demo-code").addEventListener("keydown", (ev) => { if (ev.key === "Enter") document.getElementById("demo-scan").click(); });
    document.getElementById("demo-weigh").onclick = () => demoPost("/api/v1/demo/scale", { grams: document.getElementById("demo-grams").value });
    document.getElementById("demo-clear").onclick = () => demoPost("/api/v1/demo/scale", { grams: "0" });
  }
  liveEvents("/api/v1/events", {
    state: render,
    scale: (s) => { if (STATE) { STATE.scale = s; } renderScale(s); },
    verdict: (v) => { if (STATE) STATE.verdict = v; renderVerdict(v); },
  });
  document.addEventListener("click", (ev) => { if (!ev.target.closest("details.demo")) setTimeout(refocus, 0); });
});
