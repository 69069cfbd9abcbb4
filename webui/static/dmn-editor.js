// The decision table editor: a deployed DMN file in the dmn-js modeler (decision table view).
// Save = check with the server (the table with the processes that use it); each problem is
// listed and its cell, column or rule outlined. Deploy = a new version of each of those
// processes.
(function () {
  'use strict';
  var root = document.getElementById('decision-editor');
  var source = document.getElementById('decision-xml');
  var container = document.getElementById('dmn-canvas');
  if (!root || !source || !container || typeof DmnJS === 'undefined') { return; }
  var config = JSON.parse((document.getElementById('decision-config') || {}).textContent || '{}');
  var t = CaseflowCommon.translator(config.strings); // common.js
  var el = CaseflowCommon.el;
  var statusLine = document.getElementById('decision-status');
  var problemList = document.getElementById('problems');
  var csrf = root.dataset.csrf;
  var dirty = false;
  var marks = document.createElement('style'); // outlines of the cells with problems
  document.head.appendChild(marks);

  var modeler = new DmnJS({ container: container });
  window.caseflowDmn = modeler; // for browser tests and the curious

  function status(text, kind) {
    statusLine.textContent = text;
    statusLine.className = 'status' + (kind ? ' ' + kind : '');
  }

  function tableView() {
    var views = modeler.getViews().filter(function (v) { return v.type === 'decisionTable'; });
    return views.filter(function (v) { return v.element.id === config.decisionId; })[0] || views[0];
  }

  modeler.importXML(JSON.parse(source.textContent)).then(function () {
    var view = tableView();
    if (!view) { throw new Error('no decision table'); }
    return modeler.open(view);
  }).then(function () {
    modeler.getActiveViewer().get('eventBus').on('elements.changed', function () {
      dirty = true;
      status(t('unsaved'));
    });
    root.dataset.ready = 'true';
  }).catch(function (err) {
    container.textContent = err.message;
    root.dataset.ready = 'error';
  });

  // ----- problems ---------------------------------------------------------------------------

  function cssId(id) { return String(id).replace(/["\\]/g, '\\$&'); }

  // The element a problem names: an entry (a cell), an input or output (a column), a rule (a
  // row) or the table (its hit policy).
  function target(id) {
    var q = '"' + cssId(id) + '"';
    if (id === tableId()) { return container.querySelector('.hit-policy'); }
    return container.querySelector('[data-element-id=' + q + ']') ||
      container.querySelector('th[data-col-id=' + q + ']');
  }

  // The table itself (hit policy problems) has no element of its own on the page.
  function tableId() {
    var viewer = modeler.getActiveViewer();
    var decision = viewer && viewer.getDecision && viewer.getDecision();
    return decision && decision.decisionLogic ? decision.decisionLogic.id : null;
  }

  function markSelectors(id) {
    var q = '"' + cssId(id) + '"';
    if (id === tableId()) { return '#dmn-canvas .hit-policy'; }
    return [
      '#dmn-canvas [data-element-id=' + q + ']',
      '#dmn-canvas th[data-col-id=' + q + ']',
      '#dmn-canvas td[data-row-id=' + q + ']'
    ].join(', ');
  }

  function showProblems(problems) {
    problemList.innerHTML = '';
    var ids = [];
    problems.forEach(function (p) {
      var item = el('li');
      var mine = p.element_id && (!p.file || p.file === config.filename);
      if (mine) {
        ids.push(p.element_id);
        var link = el('button', { type: 'button', 'class': 'link', text: p.element_id });
        link.addEventListener('click', function () {
          var node = target(p.element_id);
          if (node) {
            node.scrollIntoView({ block: 'center', inline: 'center' });
            if (node.focus) { node.focus(); }
          }
        });
        item.appendChild(link);
        item.appendChild(document.createTextNode(': '));
      } else if (p.element_id || (p.file && p.file !== config.filename)) {
        item.appendChild(el('code', { text: [p.file, p.element_id].filter(Boolean).join(': ') }));
        item.appendChild(document.createTextNode(': '));
      }
      item.appendChild(document.createTextNode(p.message));
      item.dataset.element = p.element_id || '';
      problemList.appendChild(item);
    });
    // A style sheet rather than classes: dmn-js re-renders its cells on every change.
    marks.textContent = ids.map(function (id) {
      return markSelectors(id) + ' { outline: 2px solid #b3261e; outline-offset: -2px; background: #fdecea; }';
    }).join('\n');
  }

  function post(url) {
    return modeler.saveXML({ format: true }).then(function (result) {
      return fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
        body: JSON.stringify({ filename: config.filename, xml: result.xml })
      });
    }).then(function (response) {
      return response.json().catch(function () {
        throw new Error(response.status + ' ' + response.statusText);
      });
    });
  }

  function check() {
    status(t('checking'));
    return post(config.validateUrl).then(function (answer) {
      showProblems(answer.problems || []);
      if (answer.ok) {
        problemList.appendChild(el('li', { 'class': 'ok', text: t('valid') }));
        status(t('valid'), 'good');
      } else {
        status(t('problems', { count: (answer.problems || []).length }), 'bad');
      }
      root.dataset.checked = answer.ok ? 'ok' : 'problems';
      return answer;
    }).catch(function (err) { status(t('failed', { reason: err.message }), 'bad'); });
  }

  function deploy() {
    status(t('deploying'));
    return post(config.deployUrl).then(function (answer) {
      showProblems(answer.problems || []);
      if (!answer.ok) {
        status(t('problems', { count: (answer.problems || []).length }), 'bad');
        root.dataset.deployed = 'problems';
        return answer;
      }
      dirty = false;
      var versions = (answer.processes || []).map(function (p) { return p.key + ' v' + p.version; });
      statusLine.innerHTML = '';
      statusLine.className = 'status good';
      statusLine.appendChild(document.createTextNode(
        t(answer.changed ? 'deployed' : 'unchanged', { versions: versions.join(', ') }) + ' '));
      (answer.processes || []).forEach(function (p, i) {
        if (i) { statusLine.appendChild(document.createTextNode(' · ')); }
        statusLine.appendChild(el('a', { href: p.url, text: p.key + ' v' + p.version }));
      });
      problemList.appendChild(el('li', { 'class': 'ok', text: statusLine.firstChild.textContent }));
      root.dataset.deployed = answer.changed ? versions.join(',') : 'unchanged';
      return answer;
    }).catch(function (err) { status(t('failed', { reason: err.message }), 'bad'); });
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (result) {
      var link = el('a', {
        href: URL.createObjectURL(new Blob([result.xml], { type: 'application/xml' })),
        download: config.filename
      });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  document.getElementById('btn-validate').addEventListener('click', check);
  document.getElementById('btn-deploy').addEventListener('click', deploy);
  document.getElementById('btn-download').addEventListener('click', download);
  document.addEventListener('keydown', function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === 's') { event.preventDefault(); check(); }
  });
  window.addEventListener('beforeunload', function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = t('leave'); }
  });
})();
