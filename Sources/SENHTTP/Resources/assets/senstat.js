// Progressive enhancement only: every page works without it. Moves focus to an error summary when a form comes
// back with errors, so keyboard and screen-reader users hear the problem first (as GOV.UK's error summary does).
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
});
