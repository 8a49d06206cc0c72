// Returns mode at the table (逆向物流): scan the return parcel, then each unit; grade, weigh, close. The station
// answers every step with a verdict (its colour and sound as in packing); the screen re-reads the return after it.
"use strict";

const $ = (id) => document.getElementById(id);
let VIEW = null;

async function refresh() {
  VIEW = await getJSON("/api/v1/returns");
  render();
}

function render() {
  const v = VIEW || {};
  const s = v.session || {};
  $("operator").textContent = v.operator || "—";
  const rma = v.rma;
  $("rma-id").textContent = rma ? rma.rma_id : "—";
  $("rma-order").textContent = rma ? rma.order_id : "—";
  $("rma-reason").textContent = rma ? rma.reason : "—";
  const back = {};
  (s.units || []).forEach((u) => { back[u.sku] = (back[u.sku] || 0) + 1; });
  $("rma-lines").innerHTML = rma ? rma.lines.map((l) =>
    `<tr><td data-value>${esc(l.sku)}</td><td class="num">${l.qty}</td><td class="num">${back[l.sku] || 0}</td></tr>`).join("") : "";
  $("units").innerHTML = (s.units || []).map((u, i) =>
    `<tr data-grade="${esc(u.grade || "")}"><td>${i + 1}</td><td data-value>${esc(u.sku)}</td>` +
    `<td data-value>${esc(u.serial || u.lot || "—")}${u.swapped ? " ⚠" : ""}</td><td data-value>${esc(u.grade || "—")}` +
    `${u.reason ? " · " + esc(t("reason:" + u.reason)) : ""}</td>` +
    `<td data-value>${u.putaway ? esc((u.putaway.lot || "—") + " → " + (u.putaway.bin || "—")) : ""}</td></tr>`).join("");
  const out = v.outbound || {};
  $("shipped").innerHTML = (out.units || []).map((u) =>
    `<tr><td data-value>${esc(u.sku)}</td><td data-value>${esc(u.lot || "—")}</td><td data-value>${esc(u.serial || "—")}</td></tr>`).join("");
  $("out-weight").textContent = out.weight_g ? out.weight_g + " g" : "—";
  $("out-media").textContent = [...(out.photos || []), ...(out.clips || [])].map((h) => h.slice(0, 12)).join(" ") || "—";
  $("expected-g").textContent = v.expected_g ? v.expected_g + " g" : "—";
  const w = s.weighing;
  $("weighing").textContent = w ? `${w.measured_g} g (${w.gap_g} g)${w.flagged ? " ⚠" : ""}` : "—";
  const unit = $("grade-unit");
  unit.innerHTML = (s.units || []).map((u, i) => `<option value="${i + 1}">${i + 1} · ${esc(u.sku)}</option>`).join("");
  const firstOpen = (s.units || []).findIndex((u) => !u.grade);
  if (firstOpen >= 0) unit.value = String(firstOpen + 1);
  $("grade-reason").innerHTML = (v.grade_reasons || []).map((r) => `<option value="${esc(r)}">${esc(t("reason:" + r))}</option>`).join("");
  $("badge-box").classList.toggle("hidden", !["swap_review", "second_badge"].includes(s.state));
  $("approve-reason").classList.toggle("hidden", s.state !== "swap_review");
}

async function step(body) {
  const answer = await postAction("/api/v1/returns", body);
  showVerdict(answer, { flash: true });
  Sound.play(answer.sound);
  await refresh();
  return answer;
}

function grade(mark) {
  const unit = Number($("grade-unit").value);
  const payload = { unit, grade: mark };
  if (mark !== "A") payload.reason = $("grade-reason").value;
  return step({ action: "grade", payload });
}

document.addEventListener("DOMContentLoaded", async () => {
  applyI18n();
  const mode = await postAction("/api/v1/returns/mode", { mode: "returns" });
  const atTheTable = mode.mode === "returns";  // a PDA at the dock does not switch the table's scanner
  const input = $("scan-input");
  const submit = wedgeInput(input, (code) => step({ action: "scan", code }));  // the station tells parcel from unit
  $("scan-send").addEventListener("click", submit);
  $("grade-a").addEventListener("click", () => grade("A"));
  $("grade-b").addEventListener("click", () => grade("B"));
  $("grade-c").addEventListener("click", () => grade("C"));
  $("weigh").addEventListener("click", () => {
    const grams = $("grams").value.trim();
    step({ action: "weigh", payload: grams ? { grams } : {} });
  });
  $("close").addEventListener("click", () => step({ action: "close" }));
  $("approve").addEventListener("click", () => {
    const swap = VIEW && VIEW.session && VIEW.session.state === "swap_review";
    const payload = swap ? { supervisor_badge: $("badge").value, supervisor_pin: $("pin").value,
                             reason: $("approve-reason").value }
                         : { badge: $("badge").value, pin: $("pin").value };
    $("pin").value = "";
    step({ action: swap ? "approve" : "second", payload });
  });
  $("put-aside").addEventListener("click", () => step({ action: "put_aside" }));
  $("to-pack").addEventListener("click", async () => {
    if (atTheTable) await postAction("/api/v1/returns/mode", { mode: "pack" });
    window.location.href = atTheTable ? "/" : "/pda";
  });
  window.onLangChange = render;
  await refresh();
});
