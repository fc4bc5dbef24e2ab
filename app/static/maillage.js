// After a failed submit, the first invalid field gets the focus (its label and error are read out);
// the error summary's links move the focus to their field.
document.addEventListener("DOMContentLoaded", function () {
  var invalid = document.querySelector('main [aria-invalid="true"], main .is-invalid');
  if (invalid) {
    invalid.focus();
  }
  document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (target) {
        event.preventDefault();
        target.focus();
      }
    });
  });
});
