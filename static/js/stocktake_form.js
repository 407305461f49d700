// Stocktake form: show the scope fields of the chosen kind only (without JavaScript both
// stay visible and the service ignores the other kind's scope).
(function () {
  "use strict";
  var kind = document.getElementById("id_kind");
  if (!kind) return;
  function sync() {
    document.querySelectorAll("fieldset[data-kind]").forEach(function (fs) {
      fs.hidden = fs.dataset.kind !== kind.value;
    });
  }
  kind.addEventListener("change", sync);
  sync();
})();
