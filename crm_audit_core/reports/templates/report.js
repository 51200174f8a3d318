/* report.html's only script (its sha256 is in the page's Content-Security-Policy): the filter
   by severity, step and status, opening and closing the tenants' sections (closed at first),
   and opening a closed section when a link points into it. Without it every section is open
   and shown. */
(function () {
  "use strict";
  var form = document.getElementById("filter");
  if (!form) { return; }
  form.hidden = false;
  function apply() {
    var severities = {};
    form.querySelectorAll("input[name=severity]").forEach(function (box) { severities[box.value] = box.checked; });
    var step = form.querySelector("select[name=step]").value;
    var onlyFindings = form.querySelector("input[name=findings]").checked;
    document.querySelectorAll("[data-severity][data-step]").forEach(function (el) {
      var shown = severities[el.getAttribute("data-severity")] !== false &&
        (!step || el.getAttribute("data-step") === step) &&
        (!onlyFindings || el.getAttribute("data-status") === "fail");
      el.hidden = !shown;
    });
    document.querySelectorAll("[data-group]").forEach(function (group) {
      group.hidden = !group.querySelector("[data-severity][data-step]:not([hidden])");
    });
  }
  function openAll(open) {
    document.querySelectorAll("details").forEach(function (d) { if (open || d.classList.contains("tenant")) { d.open = open; } });
  }
  form.addEventListener("change", apply);
  form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
  form.querySelectorAll("button[data-open]").forEach(function (button) {
    button.addEventListener("click", function () { openAll(button.getAttribute("data-open") === "1"); });
  });
  function reveal(id) {
    var target = id && document.getElementById(id);
    for (var d = target && target.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) { d.open = true; }
    return target;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href^='#']");
    if (link) { reveal(decodeURIComponent(link.getAttribute("href").slice(1))); }
  });
  window.addEventListener("hashchange", function () { reveal(decodeURIComponent(location.hash.slice(1))); });
  // With the script, the tenants' sections start closed under the overview (the matrix's and
  // the fixes' links open them); without it they are all open.
  document.querySelectorAll("details.tenant").forEach(function (d) { d.open = false; });
  reveal(decodeURIComponent(location.hash.slice(1)));
  window.addEventListener("beforeprint", function () { document.querySelectorAll("details").forEach(function (d) { d.open = true; }); });
  apply();
}());
