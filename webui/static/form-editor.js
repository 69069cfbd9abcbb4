// Live preview for the form editor: the schema text is posted to the server (debounced) and
// the form comes back rendered by the task page's own macros. Without JavaScript the
// Preview button does the same with a full page.
(function () {
  'use strict';
  var form = document.getElementById('form-editor');
  var target = document.getElementById('form-preview');
  if (!form || !target || !window.fetch) { return; }
  var timer = null;
  var latest = 0;

  function refresh() {
    var ticket = ++latest;
    fetch(form.dataset.previewUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-Preview': 'fragment' },
      body: new FormData(form)
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      if (ticket !== latest) { return; } // an older answer arriving late
      target.innerHTML = html; // rendered by our own templates, escaped there
      target.dataset.updated = String(ticket);
    }).catch(function () { /* keep the last preview */ });
  }

  form.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
})();
