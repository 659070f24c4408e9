"use strict";
// The organiser's dashboard: the figures of /admin/status.json and the progress plot, refreshed every 5 s.
(function () {
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const rows = [
    ["raters_started", "raters started"], ["raters_active", "raters active"], ["raters_finished", "raters finished"],
    ["raters_excluded", "raters excluded"], ["raters_abandoned", "raters abandoned"], ["answers", "answers"],
    ["items", "items"], ["items_complete", "items with K kept ratings"], ["ratings_needed", "kept ratings missing"],
    ["ratings_per_min", "kept ratings per minute (last 10 min)"], ["completion_estimate_min", "estimated minutes to go"],
  ];
  function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
  function number(value) { return value === null || value === undefined ? "–" : (Number.isInteger(value) ? String(value) : value.toFixed(3)); }

  async function refresh() {
    try {
      const response = await fetch("/admin/status.json?token=" + encodeURIComponent(token), { cache: "no-store" });
      if (!response.ok) { $("updated").textContent = "cannot read the status (" + response.status + ")"; return; }
      const status = await response.json();
      const figures = $("figures").tBodies[0];
      figures.replaceChildren();
      for (const [key, label] of rows) {
        const row = figures.insertRow(); row.id = "figure-" + key;
        cell(row, label); cell(row, number(status[key]));
      }
      const sets = $("sets").tBodies[0];
      sets.replaceChildren();
      for (const [name, s] of Object.entries(status.sets)) {
        const row = sets.insertRow();
        cell(row, name); cell(row, String(s.items)); cell(row, String(s.items_complete));
        cell(row, number(s.krippendorff_alpha)); cell(row, number(s.fleiss_kappa));
      }
      const plot = await fetch("/admin/progress.svg?token=" + encodeURIComponent(token), { cache: "no-store" });
      if (plot.ok) {
        const svg = new DOMParser().parseFromString(await plot.text(), "image/svg+xml").documentElement;
        $("plot").replaceChildren(document.importNode(svg, true));
      }
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (error) {
      $("updated").textContent = "server not reachable: " + error.message;
    }
  }
  refresh();
  setInterval(refresh, 5000);
})();
