// Home dashboard charts (Chart.js 4). Data comes from the json_script element "dashboard-data".
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var styles = getComputedStyle(document.documentElement);
  function colour(badge) {
    return styles.getPropertyValue("--bs-" + badge).trim() || "#6c757d";
  }
  var status = document.getElementById("chart-status");
  if (status && data.status.counts.length) {
    new Chart(status, {
      type: "doughnut",
      data: {
        labels: data.status.labels,
        datasets: [{ data: data.status.counts, backgroundColor: data.status.badges.map(colour) }],
      },
      options: { plugins: { legend: { position: "bottom" } } },
    });
  }
  var category = document.getElementById("chart-category");
  if (category && data.category.counts.length) {
    new Chart(category, {
      type: "bar",
      data: {
        labels: data.category.labels,
        datasets: [{ data: data.category.counts, backgroundColor: colour("primary") }],
      },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }
})();
