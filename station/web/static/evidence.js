// Supervisor page, "Evidence" panel: one parcel's evidence record (scans with lot and serial, badges,
// weighings with the raw scale frames they were judged on, photo/clip hashes, timeline).
"use strict";

function evidenceHtml(r) {
  const list = (items, fn) => (items.length ? items.map(fn).join("") : `<li class="muted">—</li>`);
  const badges = ["packer", "second_person", "supervisor"].map((role) =>
    `<li>${esc(t("ev_" + role))}: ${esc((r.badges[role] || []).map((b) => b.employee_id).join(", ") || "—")}</li>`).join("");
  return `<h3>${esc(r.order_id)} · ${esc(r.order ? r.order.status : "")}</h3>` +
    `<h4>${esc(t("ev_scans"))}</h4><ul>${list(r.scans, (s) => `<li>${esc(s.at)} ${esc(s.action)} <b>${esc(s.sku || s.tote || s.packaging || "")}</b>` +
      `${s.lot ? " lot " + esc(s.lot) : ""}${s.serial ? " SN " + esc(s.serial) : ""} · ${esc(s.operator || "")}</li>`)}</ul>` +
    `<h4>${esc(t("ev_badges"))}</h4><ul>${badges}</ul>` +
    `<h4>${esc(t("ev_weighings"))}</h4><ul>${list(r.weighings, (w) => `<li data-weighing="${esc(w.attempt)}">${esc(w.at)} <b>${esc(w.result)}</b> ` +
      `${esc(w.measured_g)} g / ${esc(w.expected_g)} g` + (w.source === "entered" ? ` (${esc(t("ev_entered"))})` :
      `<div class="muted">${esc(t("ev_frames"))}: ${w.frames.map((f) => `<code${f.judged ? ' class="judged"' : ""}>${esc(f.raw_hex)}</code>`).join(" ")}</div>`) + `</li>`)}</ul>` +
    `<h4>${esc(t("ev_media"))}</h4><ul>${list([...r.media.photos, ...r.media.clips], (h) => `<li><code>${esc(h)}</code></li>`)}</ul>` +
    `<h4>${esc(t("ev_timeline"))}</h4><ul>${list(r.timeline, (e) => `<li>${esc(e.at)} ${esc(e.action)} · ${esc(e.who || "")}</li>`)}</ul>`;
}

async function showEvidence() {
  const order = document.getElementById("evidence-order").value.trim();
  if (!order) return;
  const r = await getJSON(`/api/v1/supervisor/evidence/${encodeURIComponent(order)}`);
  const out = document.getElementById("evidence-view");
  out.innerHTML = r.status === "error" ? `<div class="msg error">${esc(LANG === "zh" ? r.message_zh : r.message)}</div>` : evidenceHtml(r);
}

document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  document.getElementById("evidence-go").onclick = showEvidence;
  document.getElementById("evidence-order").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); showEvidence(); } });
});
