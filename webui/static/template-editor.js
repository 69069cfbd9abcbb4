// Live preview for the message template and instructions editors: the text and the chosen
// case are posted to the server (debounced) and the preview comes back rendered by the engine
// on that case. Without JavaScript the Preview button does the same with a full page.
(function () {
  'use strict';
  var form = document.getElementById('wording-editor');
  var target = document.getElementById('wording-preview');
  if (!form || !target || !window.fetch) { return; }
  var timer = null;
  var latest = 0;

  function refresh() {
    var ticket = ++latest;
    target.setAttribute('aria-busy', 'true');
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
      target.removeAttribute('aria-busy');
    }).catch(function () { target.removeAttribute('aria-busy'); /* keep the last preview */ });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  }

  form.addEventListener('input', later);
  form.addEventListener('change', function (event) {
    if (event.target && event.target.name === 'case') { clearTimeout(timer); refresh(); }
  });
})();
