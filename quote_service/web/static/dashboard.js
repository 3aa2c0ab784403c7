// Progressive enhancement of /dashboard: the counts table and the number of emails awaiting
// reconciliation refresh themselves from counts.json every few seconds. Without this file the
// page reloads itself (meta refresh).
(function () {
  "use strict";

  var table = document.querySelector("[data-counts-url]");
  if (!table || !window.fetch) return;
  var url = table.getAttribute("data-counts-url");
  var seconds = Number(table.getAttribute("data-refresh-seconds")) || 5;
  var status = document.querySelector("[data-live-status]");
  var parked = document.querySelector("[data-reconcile-count]");

  // Cells are found by their data attributes, never by building a selector from a name.
  var cells = {};
  table.querySelectorAll("[data-queue][data-status]").forEach(function (el) {
    cells[el.dataset.queue + "\u0000" + el.dataset.status] = el;
  });
  var totals = {};
  table.querySelectorAll("[data-total]").forEach(function (el) {
    totals[el.dataset.total] = el;
  });

  function show(message) {
    if (!status) return;
    status.hidden = false;
    status.textContent = message;
  }

  // `alarming`: whether a number above zero needs someone's attention.
  function update(el, value, alarming) {
    var text = String(value);
    if (el.textContent === text) return;
    el.textContent = text;
    el.classList.toggle("dash-zero", value === 0);
    el.classList.toggle("dash-bad", alarming && value > 0);
    el.classList.add("dash-changed");
    window.setTimeout(function () { el.classList.remove("dash-changed"); }, 1500);
  }

  function refresh() {
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        var unknown = false;
        Object.keys(data.queues).forEach(function (queue) {
          Object.keys(data.queues[queue]).forEach(function (s) {
            var el = cells[queue + "\u0000" + s];
            if (el) update(el, data.queues[queue][s], s === "failed");
            else if (data.queues[queue][s] > 0) unknown = true;
          });
        });
        Object.keys(data.totals).forEach(function (s) {
          if (totals[s]) update(totals[s], data.totals[s], s === "failed");
        });
        var listed = true;
        if (parked && typeof data.needs_reconciliation === "number") {
          update(parked, data.needs_reconciliation, true);
          listed = String(data.needs_reconciliation) === parked.dataset.shown;
        }
        show("Counts updated " + new Date(data.at).toLocaleTimeString() +
             (unknown ? " · a new queue or status appeared: reload the page to see it" : "") +
             (listed ? "" : " · the emails awaiting reconciliation changed: reload the page " +
                            "to see them"));
      })
      .catch(function (error) {
        show("Counts could not be refreshed (" + error.message + "); retrying.");
      })
      .finally(function () {
        window.setTimeout(refresh, seconds * 1000);
      });
  }

  window.setTimeout(refresh, seconds * 1000);
})();
