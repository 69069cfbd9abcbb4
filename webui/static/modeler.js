// The process owner's diagram pages: the modeler with Caseflow's properties panel, bpmnlint
// and token simulation (data-mode="edit", our bundle webui/frontend/ as CaseflowBpmn), or a
// read-only diagram with markers (data-mode="view", bpmn.io's viewer as BpmnJS).
// Every change is checked by the server's validator (the one deploy uses) after a pause; each
// problem is marked on its element, listed, and shown on the field it belongs to.
(function () {
  'use strict';
  var root = document.getElementById('modeler');
  var source = document.getElementById('diagram-xml');
  var container = document.getElementById('canvas');
  if (!root || !source || !container) { return; }
  var config = JSON.parse((document.getElementById('modeler-config') || {}).textContent || '{}');
  var t = CaseflowCommon.translator(config.strings); // common.js
  var el = CaseflowCommon.el;
  var editing = root.dataset.mode === 'edit';
  if (editing ? typeof CaseflowBpmn === 'undefined' : typeof BpmnJS === 'undefined') { return; }
  var CHECK_DELAY = 800; // ms after the last change before the server checks the diagram

  var modeler = editing
    ? CaseflowBpmn.createEditor({ container: container, panel: document.getElementById('properties'), config: config })
    : new BpmnJS({ container: container });
  window.caseflowModeler = modeler; // for other scripts of the page, browser tests and the curious

  modeler.importXML(JSON.parse(source.textContent)).then(function () {
    modeler.get('canvas').zoom('fit-viewport');
    if (editing) { startEditing(); } else { markElements(config.markers || {}); }
    root.dataset.ready = 'true';
  }).catch(function (err) {
    container.textContent = err.message;
    root.dataset.ready = 'error';
  });

  function markElements(markers) {
    var canvas = modeler.get('canvas');
    var registry = modeler.get('elementRegistry');
    Object.keys(markers).forEach(function (kind) {
      (markers[kind] || []).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, 'model-' + kind); }
      });
    });
  }

  // ----- editing ------------------------------------------------------------------------------

  function startEditing() {
    var registry = modeler.get('elementRegistry');
    var canvas = modeler.get('canvas');
    var overlays = modeler.get('overlays');
    var fieldProblems = modeler.get('fieldProblems');
    var statusLine = document.getElementById('modeler-status');
    var problemList = document.getElementById('problems');
    var deployButton = document.getElementById('btn-deploy');
    var simulateButton = document.getElementById('btn-simulate');
    var csrf = root.dataset.csrf;
    var marked = [];
    var dirty = false;
    var changes = 0; // model changes so far: an answer about an older model is not shown
    var started = 0; // checks started so far: only the newest one's answer is shown
    var timer = null;
    var blocked = false;

    function status(text, kind) {
      statusLine.textContent = text;
      statusLine.className = 'status' + (kind ? ' ' + kind : '');
    }

    function block(problems) {
      blocked = problems.length > 0;
      deployButton.disabled = blocked;
      deployButton.title = blocked ? t('blocked') : '';
    }

    // The panel names the element it shows (for the page's other scripts and browser tests).
    var panel = document.getElementById('properties');
    panel.dataset.element = canvas.getRootElement().id;
    modeler.on('propertiesPanel.updated', function (event) {
      panel.dataset.element = event.element ? event.element.id : '';
    });

    modeler.on('commandStack.changed', function () {
      dirty = true;
      changes += 1;
      status(t('unsaved'));
      clearTimeout(timer);
      timer = setTimeout(function () { check(true); }, CHECK_DELAY);
    });
    window.addEventListener('beforeunload', function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = t('leave'); }
    });

    // --- problems: listed, marked on their elements and shown on their fields
    function clearProblems() {
      marked.forEach(function (id) { if (registry.get(id)) { canvas.removeMarker(id, 'model-problem'); } });
      marked = [];
      overlays.remove({ type: 'problem' });
      problemList.innerHTML = '';
    }
    function showProblems(problems) {
      clearProblems();
      fieldProblems.setProblems(problems);
      problems.forEach(function (p) {
        var item = el('li');
        var target = p.element_id && registry.get(p.element_id);
        if (!target && p.element_id) {
          // a process's own problem: its pool, or the canvas when there is none
          target = registry.filter(function (e) {
            return e.type === 'bpmn:Participant' && e.businessObject.processRef && e.businessObject.processRef.id === p.element_id;
          })[0] || null;
          if (!target && canvas.getRootElement().businessObject.id === p.element_id) { target = canvas.getRootElement(); }
        }
        if (target && target !== canvas.getRootElement()) {
          if (marked.indexOf(target.id) < 0) {
            canvas.addMarker(target.id, 'model-problem');
            marked.push(target.id);
          }
          overlays.add(target.id, 'problem', {
            position: { bottom: -4, left: 0 },
            html: el('div', { 'class': 'problem-overlay', text: p.message })
          });
        }
        if (target) {
          var link = el('button', { type: 'button', 'class': 'link', text: p.element_id + (p.field ? ' · ' + p.field : '') });
          link.addEventListener('click', function () {
            fieldProblems.reveal(target === canvas.getRootElement() ? null : target, p);
            if (target !== canvas.getRootElement()) { canvas.scrollToElement(target); }
          });
          item.appendChild(link);
          item.appendChild(document.createTextNode(': '));
        } else if (p.element_id || (p.file && p.file !== config.filename)) {
          item.appendChild(el('code', { text: [p.file, p.element_id].filter(Boolean).join(': ') }));
          item.appendChild(document.createTextNode(': '));
        }
        item.appendChild(document.createTextNode(p.message));
        item.dataset.element = p.element_id || '';
        item.dataset.field = p.field || '';
        problemList.appendChild(item);
      });
      block(problems);
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

    function report(answer) {
      showProblems(answer.problems || []);
      if (answer.ok) {
        problemList.appendChild(el('li', { 'class': 'ok', text: t('valid') }));
        status(t('valid'), 'good');
      } else {
        status(t('problems', { count: answer.problems.length }), 'bad');
      }
      root.dataset.checked = answer.ok ? 'ok' : 'problems';
      return answer;
    }

    // `quiet`: started by a change (the status line says so only when there is news).
    function check(quiet) {
      clearTimeout(timer);
      started += 1;
      var mine = started;
      var model = changes;
      delete root.dataset.checked;
      root.dataset.checking = 'true';
      if (!quiet) { status(t('checking')); }
      return post(config.validateUrl).then(function (answer) {
        if (mine !== started || model !== changes) { return answer; } // a newer check follows
        delete root.dataset.checking;
        return report(answer);
      }).catch(function (err) {
        if (mine === started) { delete root.dataset.checking; }
        status(t('failed', { reason: err.message }), 'bad');
      });
    }

    function deploy() {
      if (blocked) { status(t('blocked'), 'bad'); return Promise.resolve(null); }
      clearTimeout(timer);
      status(t('deploying'));
      return post(config.deployUrl).then(function (answer) {
        showProblems(answer.problems || []);
        if (!answer.ok) {
          status(t('problems', { count: (answer.problems || []).length }), 'bad');
          root.dataset.checked = 'problems';
          root.dataset.deployed = 'problems';
          return answer;
        }
        dirty = false;
        statusLine.innerHTML = '';
        statusLine.className = 'status good';
        statusLine.appendChild(document.createTextNode(
          t(answer.changed ? 'deployed' : 'unchanged', { version: answer.version }) + ' '));
        statusLine.appendChild(el('a', { href: answer.url, text: t('open_version') }));
        problemList.appendChild(el('li', { 'class': 'ok', text: statusLine.firstChild.textContent }));
        root.dataset.deployed = answer.changed ? 'v' + answer.version : 'unchanged';
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

    // Token simulation: walk the paths by hand (editing is off meanwhile).
    modeler.on('tokenSimulation.toggleMode', function (event) {
      simulateButton.setAttribute('aria-pressed', event.active ? 'true' : 'false');
      simulateButton.classList.toggle('active', !!event.active);
      root.dataset.simulating = event.active ? 'true' : 'false';
    });
    simulateButton.addEventListener('click', function () { modeler.get('toggleMode').toggleMode(); });

    // An imported diagram arrives checked: its problems are marked before the owner edits it,
    // and it counts as unsaved (nothing of it is stored until it is deployed).
    if (Array.isArray(config.problems)) {
      report({ ok: config.problems.length === 0, problems: config.problems });
    }
    if (config.imported) { dirty = true; }

    document.getElementById('btn-validate').addEventListener('click', function () { check(false); });
    deployButton.addEventListener('click', deploy);
    document.getElementById('btn-download').addEventListener('click', download);
    document.addEventListener('keydown', function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === 's') { event.preventDefault(); check(false); }
    });
  }
})();
