(function () {
  "use strict";
  // Sorting: Vietnamese numbers ("1.234,5", "94,1", "+2,86", "▲ 3", "12%") sort
  // numerically; "-" and empty cells always go last; text uses Vietnamese collation.
  // Each <tbody> is one section (a SectionRow heads it): rows sort within it.
  var collator = (window.Intl && Intl.Collator) ? new Intl.Collator("vi", { numeric: true, sensitivity: "base" }) : null;
  var NUM = /^[+\-\u2212]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$/;
  var MISSING = { "": 1, "-": 1, "\u2013": 1, "\u2014": 1, "\u2026": 1, "x": 1, "X": 1, "N/A": 1 };

  function key(text) {
    var t = text.replace(/^\s+|\s+$/g, "");
    if (MISSING[t]) return { k: 2, v: 0 };
    var s = t.replace(/[\s\u00a0]/g, "").replace(/^[\u25b2\u25bc\u25b3\u25bd\u2191\u2193\u2197\u2198]+|%$/g, "");
    if (NUM.test(s)) {
      return { k: 0, v: parseFloat(s.replace("\u2212", "-").replace(/\./g, "").replace(",", ".")) };
    }
    return { k: 1, v: t };
  }
  function compareText(a, b) { return collator ? collator.compare(a, b) : a.localeCompare(b, "vi"); }
  function fold(s) {
    return s.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/\u0111/g, "d");
  }
  function dataRows(tbody) {
    return Array.prototype.filter.call(tbody.rows, function (r) { return !r.classList.contains("section-row"); });
  }

  function setupSort(table) {
    var i = 0;
    Array.prototype.forEach.call(table.tBodies, function (tb) {
      dataRows(tb).forEach(function (r) { r.dataset.i = String(i++); });
    });
    var buttons = table.querySelectorAll("thead button.sort");
    Array.prototype.forEach.call(buttons, function (btn) {
      btn.addEventListener("click", function () {
        var th = btn.parentNode;
        var state = th.getAttribute("aria-sort");
        var next = state === "ascending" ? "descending" : (state === "descending" ? "none" : "ascending");
        Array.prototype.forEach.call(table.querySelectorAll("thead th[aria-sort]"), function (o) {
          o.setAttribute("aria-sort", "none");
        });
        th.setAttribute("aria-sort", next);
        sortBy(table, parseInt(btn.dataset.col, 10), next);
      });
    });
  }

  function sortBy(table, col, dir) {
    var sign = dir === "descending" ? -1 : 1;
    Array.prototype.forEach.call(table.tBodies, function (tb) {
      var rows = dataRows(tb).map(function (r) {
        return { r: r, i: parseInt(r.dataset.i, 10), key: key(r.cells[col] ? r.cells[col].textContent : "") };
      });
      rows.sort(function (a, b) {
        if (dir === "none") return a.i - b.i;
        if (a.key.k !== b.key.k) return a.key.k - b.key.k;
        var c = 0;
        if (a.key.k === 0) c = a.key.v - b.key.v;
        else if (a.key.k === 1) c = compareText(a.key.v, b.key.v);
        return c !== 0 ? sign * c : a.i - b.i;
      });
      rows.forEach(function (x) { tb.appendChild(x.r); });
    });
  }

  function setupSearch(input) {
    var table = document.getElementById(input.dataset.table);
    if (!table) return;
    var count = input.parentNode.querySelector(".table-count");
    var all = [];
    Array.prototype.forEach.call(table.tBodies, function (tb) {
      dataRows(tb).forEach(function (r) { r.dataset.q = fold(r.textContent); all.push(r); });
    });
    function apply() {
      var q = fold(input.value.replace(/^\s+|\s+$/g, ""));
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies, function (tb) {
        var any = false;
        dataRows(tb).forEach(function (r) {
          var ok = !q || r.dataset.q.indexOf(q) !== -1;
          r.hidden = !ok;
          if (ok) { any = true; shown++; }
        });
        Array.prototype.forEach.call(tb.querySelectorAll("tr.section-row"), function (s) { s.hidden = !any; });
      });
      count.textContent = q ? "Hiển thị " + shown + "/" + all.length + " dòng" : all.length + " dòng";
    }
    input.addEventListener("input", apply);
    input.parentNode.hidden = false;
    apply();
  }

  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), setupSort);
  Array.prototype.forEach.call(document.querySelectorAll("input.table-search"), setupSearch);
})();
