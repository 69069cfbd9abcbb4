// Shows a process version in the bpmn-js viewer: a case's elements marked (data-markers, with
// what each waits for as its tooltip), badges with the number of running cases waiting at
// each element (data-heat), and the zoom in / zoom out / fit buttons of the page ([data-zoom]).
(function () {
  var container = document.getElementById('diagram');
  var source = document.getElementById('diagram-xml');
  if (!container || !source || typeof BpmnJS === 'undefined') { return; }
  var markers = JSON.parse(container.dataset.markers || '{}');
  var heat = JSON.parse(container.dataset.heat || '{}');
  var label = container.dataset.heatLabel || '';
  var viewer = new BpmnJS({ container: container });
  var canvas = null;
  var showHeat = null;
  var heatLoaded = false;

  function noteZoom() {
    if (canvas) { container.dataset.zoom = canvas.zoom().toFixed(3); }
  }

  function zoom(how) {
    if (!canvas) { return; }
    if (how === 'fit') {
      canvas.zoom('fit-viewport', 'auto');
    } else {
      var step = how === 'in' ? 1 : -1;
      var scroll = null;
      try { scroll = viewer.get('zoomScroll'); } catch (e) { scroll = null; }
      if (scroll) {
        scroll.stepZoom(step);
      } else {
        canvas.zoom(canvas.zoom() * (step > 0 ? 1.25 : 0.8), 'auto');
      }
    }
    noteZoom();
  }

  // The colour says how the cases wait: some in error, else some at a task, else some for a
  // timer, else all for a message (the heat map's legend).
  function kind(counts) {
    if (counts.errors) { return ' has-error'; }
    if (counts.tasks) { return ''; }
    return counts.timers ? ' only-timer' : ' only-message';
  }

  function badge(counts) {
    var total = (counts.tasks || 0) + (counts.timers || 0) + (counts.messages || 0) + (counts.errors || 0);
    if (!total) { return null; }
    var span = document.createElement('span');
    span.className = 'heat-badge' + kind(counts);
    span.textContent = String(total);
    span.title = total + ' ' + label;
    span.setAttribute('data-count', String(total));
    return span;
  }

  viewer.importXML(JSON.parse(source.textContent)).then(function () {
    canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    ['completed', 'waiting', 'message', 'active', 'error'].forEach(function (kind) {
      (markers[kind] || []).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, 'case-' + kind); }
      });
    });
    // What a marked element waits for ("Waiting for message …"): the element's tooltip, and
    // a small badge that says it to keyboards and screen readers too.
    var titles = markers.titles || {};
    Object.keys(titles).forEach(function (id) {
      var graphics = registry.get(id) ? registry.getGraphics(id) : null;
      if (!graphics) { return; }
      var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = titles[id];
      graphics.insertBefore(title, graphics.firstChild);
      var note = document.createElement('span');
      note.className = 'wait-badge';
      note.textContent = '\u2709';
      note.title = titles[id];
      note.setAttribute('role', 'img');
      note.setAttribute('aria-label', titles[id]);
      note.setAttribute('data-element', id);
      overlays.add(id, 'wait', { position: { top: -10, left: -10 }, html: note });
    });
    showHeat = function (counts) {
      overlays.remove({ type: 'heat' });
      Object.keys(counts).forEach(function (id) {
        var html = registry.get(id) ? badge(counts[id]) : null;
        if (html) {
          overlays.add(id, 'heat', { position: { top: -10, right: 14 }, html: html });
        }
      });
    };
    showHeat(heat);
    canvas.zoom('fit-viewport', 'auto');
    viewer.get('eventBus').on('canvas.viewbox.changed', noteZoom);
    noteZoom();
    container.dataset.ready = 'true';
  }).catch(function (err) {
    container.textContent = (container.dataset.failed || 'Diagram could not be shown:') + ' ' + err.message;
    container.dataset.ready = 'error';
  });

  Array.prototype.forEach.call(document.querySelectorAll('[data-zoom]'), function (button) {
    button.addEventListener('click', function () { zoom(button.getAttribute('data-zoom')); });
  });
  // On a case page the counts are fetched the first time they are asked for.
  var toggle = document.getElementById('heat-toggle');
  if (toggle) {
    toggle.addEventListener('change', function () {
      container.classList.toggle('heat-off', !toggle.checked);
      if (!toggle.checked || heatLoaded || !container.dataset.heatUrl || !showHeat) { return; }
      heatLoaded = true;
      fetch(container.dataset.heatUrl, { credentials: 'same-origin' })
        .then(function (answer) { return answer.ok ? answer.json() : {}; })
        .then(function (counts) {
          showHeat(counts);
          container.dataset.heatReady = 'true';
        })
        .catch(function () { heatLoaded = false; });
    });
  }
})();
