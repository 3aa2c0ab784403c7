// Progressive enhancement only: every page works without this file.
// - the quotation form adds and removes line rows in the browser instead of a round trip;
// - a submitted form cannot be clicked twice;
// - the customer's name suggests the customers already known, and picking one fills the rest;
// - a quotation still in the pipeline reloads its page when the API reports a change.
(function () {
  "use strict";

  function renumber(tbody) {
    var rows = tbody.querySelectorAll("[data-line]");
    rows.forEach(function (row, i) {
      row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(/lines-(\d+|__i__)/g, "lines-" + i));
        });
      });
      row.querySelectorAll("[data-line-number], [data-line-label]").forEach(function (el) {
        el.textContent = String(i + 1);
      });
      var remove = row.querySelector("[data-remove-line]");
      if (remove) {
        remove.value = "remove_line:" + i;
        var label = remove.querySelector(".visually-hidden");
        if (label) label.textContent = "Remove line " + (i + 1);
      }
    });
  }

  function setUpLines(form) {
    var tbody = form.querySelector("[data-lines]");
    var template = document.getElementById("line-template");
    if (!tbody || !template || !("content" in template)) return;

    form.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button || !form.contains(button)) return;
      if (button.hasAttribute("data-add-line")) {
        event.preventDefault();
        var row = template.content.querySelector("[data-line]").cloneNode(true);
        tbody.appendChild(row);
        renumber(tbody);
        var first = row.querySelector("textarea, input");
        if (first) first.focus();
      } else if (button.hasAttribute("data-remove-line")) {
        event.preventDefault();
        var line = button.closest("[data-line]");
        if (tbody.querySelectorAll("[data-line]").length > 1) {
          line.remove();
        } else {
          // Keep one row to type into, as the server does.
          line.querySelectorAll("input, textarea").forEach(function (el) { el.value = ""; });
        }
        renumber(tbody);
      }
    });
  }

  function guardDoubleSubmit(form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (!submitter || (submitter.value !== "submit" && submitter.value !== "draft")) return;
      if (form.dataset.submitting) { event.preventDefault(); return; }
      form.dataset.submitting = "1";
      // Disable after the browser has read the button's name and value.
      window.setTimeout(function () {
        form.querySelectorAll("[data-submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  }

  function fillCustomer(form, customer) {
    ["name", "email", "company", "address"].forEach(function (field) {
      var input = form.querySelector("[name='customer_" + field + "']");
      if (input) input.value = customer[field] || "";
    });
  }

  function suggestCustomers(form) {
    var input = form.querySelector("[data-customers]");
    var list = document.getElementById("customer-suggestions");
    if (!input || !list || !window.fetch) return;
    var known = {};
    var asked = "";
    var timer = null;
    input.addEventListener("input", function () {
      var picked = known[input.value];
      if (picked) { fillCustomer(form, picked); return; }
      var text = input.value.trim();
      window.clearTimeout(timer);
      if (text.length < 2 || text === asked) return;
      timer = window.setTimeout(function () {
        asked = text;
        fetch(input.getAttribute("data-customers") + "?q=" + encodeURIComponent(text),
              { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (doc) {
            if (!doc) return;
            list.textContent = "";
            known = {};
            doc.items.forEach(function (customer) {
              var label = customer.name + " \u2014 " + customer.email +
                          (customer.company ? " (" + customer.company + ")" : "");
              var option = document.createElement("option");
              option.value = label;
              list.appendChild(option);
              known[label] = customer;
            });
          })
          .catch(function () { /* typing on works without suggestions */ });
      }, 200);
    });
  }

  function setUpForm() {
    var form = document.getElementById("quotation-form");
    if (!form) return;
    setUpLines(form);
    guardDoubleSubmit(form);
    suggestCustomers(form);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  function pollQuotation() {
    var holder = document.querySelector("[data-poll]");
    if (!holder || !window.fetch) return;
    var url = holder.getAttribute("data-poll");
    var seen = holder.getAttribute("data-fingerprint");
    var timer = window.setInterval(function () {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (doc) {
          if (!doc) return;
          if (doc.status + ":" + doc.events.length !== seen) {
            window.clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { /* the next tick tries again */ });
    }, 2500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpForm();
    pollQuotation();
  });
})();
