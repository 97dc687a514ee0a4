// The periodic task form's crontab help (django-celery-beat's inline script, moved here for the CSP):
// picking a crontab shows it in words under the field.
"use strict";
(function () {
  var $ = django.jQuery;
  var readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  var help = JSON.parse(document.getElementById("crontab-help").textContent);
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    var translation = readable[$("#id_crontab").val()];
    $(".field-crontab .help").text(help).append("<br>", document.createTextNode("Translation: " + (translation || "")));
  });
})();
