// Shows the case's own process version in the bpmn-js viewer and marks its elements.
(function () {
  var container = document.getElementById('diagram');
  var source = document.getElementById('diagram-xml');
  if (!container || !source || typeof BpmnJS === 'undefined') { return; }
  var markers = JSON.parse(container.dataset.markers || '{}');
  var viewer = new BpmnJS({ container: container });
  viewer.importXML(JSON.parse(source.textContent)).then(function () {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    ['completed', 'waiting', 'active', 'error'].forEach(function (kind) {
      (markers[kind] || []).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, 'case-' + kind); }
      });
    });
    canvas.zoom('fit-viewport');
    container.dataset.ready = 'true';
  }).catch(function (err) {
    container.textContent = 'Diagram could not be shown: ' + err.message;
    container.dataset.ready = 'error';
  });
})();
