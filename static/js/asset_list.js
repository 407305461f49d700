// Asset list: "select all on this page" and the count of selected assets for label printing.
// Delegated from document so it keeps working after htmx swaps the table.
(function () {
  "use strict";
  function boxes() {
    return document.querySelectorAll('#asset-table input[name="tags"]');
  }
  function refresh() {
    var all = boxes();
    var checked = Array.prototype.filter.call(all, function (b) { return b.checked; }).length;
    document.querySelectorAll("[data-selected-count]").forEach(function (el) {
      el.textContent = String(checked);
    });
    var head = document.querySelector("#asset-table [data-select-all]");
    if (head) {
      head.checked = all.length > 0 && checked === all.length;
      head.indeterminate = checked > 0 && checked < all.length;
    }
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      boxes().forEach(function (b) { b.checked = target.checked; });
      refresh();
    } else if (target.matches('#asset-table input[name="tags"]')) {
      refresh();
    }
  });
  document.addEventListener("htmx:afterSwap", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
