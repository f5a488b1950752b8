// The SQS dashboard's only script: optional auto-refresh of the queue list.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("sqs-auto-refresh");
  if (!box) { return; }
  var key = "django_sqs.dashboard.autoRefresh";
  box.checked = window.localStorage.getItem(key) === "1";
  var timer = null;
  function arm() {
    if (timer) { window.clearTimeout(timer); timer = null; }
    if (box.checked) { timer = window.setTimeout(function () { window.location.reload(); }, 1000 * Number(box.dataset.seconds)); }
  }
  box.addEventListener("change", function () { window.localStorage.setItem(key, box.checked ? "1" : "0"); arm(); });
  arm();
});
