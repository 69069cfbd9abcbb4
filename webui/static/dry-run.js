// The modeler page's dry run panel (templates/models/_dry_run.html): a scenario editor, Run,
// and the report. The diagram is read from the bpmn-js modeler the page made
// (window.caseflowModeler) when Run is pressed, so the run is of the draft as it is on the
// canvas. The server runs it in a throw-away database (webui/models/dryrun.py).
(function () {
  'use strict';
  var root = document.getElementById('dry-run');
  if (!root) { return; }
  var config = JSON.parse((document.getElementById('dry-run-config') || {}).textContent || '{}');
  var t = CaseflowCommon.translator(config.strings); // common.js
  var el = CaseflowCommon.el;
  var startInput = document.getElementById('dry-run-start');
  var dataInput = document.getElementById('dry-run-data');
  var stepList = document.getElementById('dry-run-steps');
  var statusLine = document.getElementById('dry-run-status');
  var preview = document.getElementById('dry-run-json');
  var results = document.getElementById('dry-run-results');
  var marked = [];
  var overlayIds = [];
  var dataEdited = false;

  function modeler() { return window.caseflowModeler; }

  function status(text, kind) {
    statusLine.textContent = text;
    statusLine.className = 'status' + (kind ? ' ' + kind : '');
  }

  // ----- what the diagram offers -------------------------------------------------------------

  function userTasks() {
    var m = modeler();
    if (!m) { return []; }
    return m.get('elementRegistry').filter(function (e) {
      return e.type === 'bpmn:UserTask' || e.type === 'bpmn:ManualTask';
    }).map(function (e) { return { id: e.id, name: e.businessObject.name || '' }; });
  }

  function messageNames() {
    var m = modeler();
    var definitions = m && m.getDefinitions && m.getDefinitions();
    var names = ((definitions && definitions.rootElements) || []).filter(function (r) {
      return r.$type === 'bpmn:Message' && r.name;
    }).map(function (r) { return r.name; });
    return names.filter(function (n, i) { return names.indexOf(n) === i; }).sort();
  }

  // ----- the start data ----------------------------------------------------------------------

  function fillSimplest(force) {
    if (dataEdited && !force) { return; }
    var url = root.dataset.startUrl + '?start=' + encodeURIComponent(startInput.value || '');
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body && body.ok) {
          dataInput.value = JSON.stringify(body.data || {}, null, 2);
          dataEdited = false;
          updatePreview();
        }
      })
      .catch(function () { /* the owner can still type the data */ });
  }

  dataInput.addEventListener('input', function () { dataEdited = true; updatePreview(); });
  startInput.addEventListener('change', function () { fillSimplest(false); updatePreview(); });
  document.getElementById('dry-run-simplest').addEventListener('click', function () { fillSimplest(true); });

  // ----- the steps ---------------------------------------------------------------------------

  function select(options, value, label) {
    var node = el('select', { 'aria-label': label });
    options.forEach(function (o) {
      var option = el('option', { value: o.value, text: o.label });
      if (o.value === value) { option.selected = true; }
      node.appendChild(option);
    });
    return node;
  }

  function jsonArea(label, value) {
    var area = el('textarea', { rows: '2', spellcheck: 'false', 'aria-label': label, placeholder: label });
    area.value = value || '';
    return area;
  }

  function addStep(kind, step) {
    step = step || {};
    var row = el('div', { 'class': 'step-row' }, [el('strong', { text: t(kind) })]);
    var item = el('li', { 'data-kind': kind }, [row]);
    if (kind === 'complete') {
      var tasks = userTasks();
      if (!tasks.length) { status(t('no_tasks'), 'bad'); return; }
      row.appendChild(select(tasks.map(function (x) {
        return { value: x.id, label: (x.name ? x.name + ' · ' : '') + x.id };
      }), step.element, t('task')));
      row.appendChild(jsonArea(t('answers'), step.answers ? JSON.stringify(step.answers) : ''));
    } else if (kind === 'message') {
      var names = messageNames();
      if (!names.length) { status(t('no_messages'), 'bad'); return; }
      row.appendChild(select(names.map(function (n) { return { value: n, label: n }; }), step.name, t('message_name')));
      row.appendChild(jsonArea(t('payload'), step.payload ? JSON.stringify(step.payload) : '{}'));
    } else if (kind === 'clock') {
      var how = select([{ value: 'by', label: t('by') }, { value: 'to', label: t('to') }], step.to ? 'to' : 'by', t('clock'));
      var value = el('input', { type: 'text', 'aria-label': t('clock'), value: step.to || step.by || 'PT24H' });
      how.addEventListener('change', function () {
        value.type = how.value === 'to' ? 'datetime-local' : 'text';
        value.value = how.value === 'to' ? (startInput.value || '') : 'PT24H';
        updatePreview();
      });
      row.appendChild(how);
      row.appendChild(value);
    } else {
      var box = el('input', { type: 'checkbox' });
      box.checked = !!step.timers_first;
      row.appendChild(el('label', {}, [box, ' ' + t('timers_first')]));
    }
    var remove = el('button', { type: 'button', text: t('remove') });
    remove.addEventListener('click', function () { item.remove(); updatePreview(); });
    row.appendChild(remove);
    item.addEventListener('input', updatePreview);
    item.addEventListener('change', updatePreview);
    stepList.appendChild(item);
    updatePreview();
  }

  document.getElementById('dry-run-add').addEventListener('click', function () {
    addStep(document.getElementById('dry-run-add-kind').value);
  });

  function parseJson(text, what, empty) {
    if (!text.trim()) { return empty; }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new Error(t('not_json', { what: what, reason: err.message }));
    }
  }

  // The scenario as the server reads it (engine.casework.scenario).
  function scenario() {
    var built = { start: startInput.value, data: parseJson(dataInput.value, t('start_data'), undefined), steps: [] };
    Array.prototype.forEach.call(stepList.children, function (item, n) {
      var kind = item.dataset.kind;
      var fields = item.querySelectorAll('select, input, textarea');
      var what = t('step', { n: n + 1 });
      if (kind === 'complete') {
        var answers = parseJson(fields[1].value, what, null);
        var step = { 'do': 'complete', element: fields[0].value };
        if (answers !== null) { step.answers = answers; }
        built.steps.push(step);
      } else if (kind === 'message') {
        built.steps.push({ 'do': 'message', name: fields[0].value, payload: parseJson(fields[1].value, what, {}) });
      } else if (kind === 'clock') {
        var clock = { 'do': 'clock' };
        clock[fields[0].value] = fields[1].value;
        built.steps.push(clock);
      } else {
        built.steps.push({ 'do': 'run_to_end', timers_first: fields[0].checked });
      }
    });
    return built;
  }

  function updatePreview() {
    try {
      preview.textContent = JSON.stringify(scenario(), null, 2);
    } catch (err) {
      preview.textContent = err.message;
    }
  }

  // ----- marks on the diagram ----------------------------------------------------------------

  function clearMarks() {
    var m = modeler();
    if (!m) { return; }
    var canvas = m.get('canvas');
    marked.forEach(function (pair) { canvas.removeMarker(pair[0], pair[1]); });
    overlayIds.forEach(function (id) { m.get('overlays').remove(id); });
    marked = [];
    overlayIds = [];
  }

  // Marks an element, and for a waiting or failing one also the sub-processes around it: a
  // collapsed sub-process shows its inside on a page of its own.
  function mark(id, marker) {
    var m = modeler();
    var element = id && m && m.get('elementRegistry').get(id);
    if (!element) { return; }
    m.get('canvas').addMarker(id, marker);
    marked.push([id, marker]);
    if (marker === 'dry-run-path') { return; }
    var parent = element.businessObject && element.businessObject.$parent;
    while (parent && parent.$type === 'bpmn:SubProcess') {
      if (m.get('elementRegistry').get(parent.id)) {
        m.get('canvas').addMarker(parent.id, marker);
        marked.push([parent.id, marker]);
      }
      parent = parent.$parent;
    }
  }

  function badge(id, text, kind) {
    var m = modeler();
    if (!id || !m || !m.get('elementRegistry').get(id)) { return; }
    overlayIds.push(m.get('overlays').add(id, {
      position: { bottom: 6, left: 0 },
      html: el('div', { 'class': 'dry-run-overlay' + (kind ? ' ' + kind : ''), text: text })
    }));
  }

  function focus(id) {
    var m = modeler();
    var element = id && m && m.get('elementRegistry').get(id);
    if (!element) { return; }
    m.get('selection').select(element);
    try { m.get('canvas').scrollToElement(element); } catch (err) { /* older bpmn-js */ }
  }

  // ----- the report --------------------------------------------------------------------------

  function when(value) { return value ? value.local : ''; }

  function label(name, id) { return name ? name + ' (' + id + ')' : (id || ''); }

  // "what: text" and a list, as the page's language writes them.
  function said(what, text) { return what ? t('said', { field: what, message: text }) : text; }

  function list(items) { return items.join(t('separator')) || t('none'); }

  function showReport(report) {
    var end = report.end || {};
    var endLine = document.getElementById('dry-run-end');
    endLine.textContent = '';
    if (!end.status) {
      endLine.textContent = t('not_started');
    } else {
      var parts = [t('status_' + end.status)];
      if (end.outcome) { parts.push(said(t('outcome'), (config.outcomes || {})[end.outcome] || end.outcome)); }
      if (end.waiting) {
        var w = end.waiting;
        parts.push(said(t('waits_tasks'), list(w.tasks.map(function (x) { return label(x.name, x.element); }))));
        parts.push(said(t('waits_timers'), list(w.timers.map(function (x) { return label(x.name, x.element) + ' ' + when(x.due); }))));
        parts.push(said(t('waits_messages'), list(w.messages)));
      }
      parts.push(t('clock_at') + ' ' + when(end.clock));
      endLine.textContent = parts.join(' · ');
    }
    root.dataset.status = end.status || 'not_started';

    var errors = document.getElementById('dry-run-errors');
    errors.textContent = '';
    (report.errors || []).forEach(function (e) {
      var where = e.step !== undefined && e.step !== null ? t('step', { n: e.step + 1 }) + ' (' + e.action + ') ' : '';
      errors.appendChild(el('li', { 'data-element': e.element || '' }, [
        when(e) + ' ' + where + said(e.element ? label(e.name, e.element) : '', e.message)
      ]));
      mark(e.element, 'dry-run-error');
      badge(e.element, e.message);
    });
    if (!(report.errors || []).length) { errors.appendChild(el('li', { 'class': 'meta', text: t('none') })); }

    var messages = document.getElementById('dry-run-messages');
    messages.textContent = '';
    (report.messages || []).forEach(function (msg) {
      var head = [when(msg.queued), msg.channel.toUpperCase(), '→', msg.recipient];
      if (msg.subject) { head.push('· ' + msg.subject); }
      var meta = msg.sms ? t('sms_length', msg.sms) : (msg.attachments || []).join(', ');
      messages.appendChild(el('li', { 'class': 'message' }, [
        el('strong', { text: head.join(' ') }),
        meta ? el('span', { 'class': 'meta', text: ' · ' + meta }) : null,
        el('pre', { text: msg.text })
      ]));
    });
    if (!(report.messages || []).length) { messages.appendChild(el('li', { 'class': 'meta', text: t('none') })); }

    var tbody = document.querySelector('#dry-run-tasks tbody');
    tbody.textContent = '';
    (report.tasks || []).forEach(function (task) {
      tbody.appendChild(el('tr', { 'data-element': task.element }, [
        el('td', { text: label(task.name, task.element) }),
        el('td', { text: task.role_name || task.role }),
        el('td', { text: when(task.opened) }),
        el('td', { text: when(task.due) }),
        el('td', { text: when(task.completed) })
      ]));
    });

    var path = document.getElementById('dry-run-path');
    path.textContent = '';
    (report.path || []).forEach(function (p) {
      path.appendChild(el('li', { 'class': p.kind, 'data-element': p.element }, [
        when(p) + ' · ' + label(p.name, p.element) + ' · ' + t(p.kind)
      ]));
      mark(p.element, p.kind === 'error' ? 'dry-run-error' : 'dry-run-path');
    });
    (end.active || []).forEach(function (id) { mark(id, 'dry-run-waiting'); });

    var notes = document.getElementById('dry-run-notes');
    notes.textContent = '';
    (report.notes || []).forEach(function (n) { notes.appendChild(el('li', { text: n.message })); });

    results.hidden = false;
    status(t('done', { seconds: report.seconds, actions: report.actions }), (report.errors || []).length ? 'bad' : 'good');
  }

  function showRefusal(body) {
    var errors = document.getElementById('dry-run-errors');
    errors.textContent = '';
    Object.keys(body.errors || {}).forEach(function (where) {
      body.errors[where].forEach(function (text) {
        errors.appendChild(el('li', { text: said(where, text) }));
      });
    });
    (body.problems || []).forEach(function (p) {
      errors.appendChild(el('li', { 'data-element': p.element_id || '', text: said(p.element_id, p.message) }));
      mark(p.element_id, 'dry-run-error');
    });
    ['dry-run-messages', 'dry-run-path', 'dry-run-notes'].forEach(function (id) { document.getElementById(id).textContent = ''; });
    document.querySelector('#dry-run-tasks tbody').textContent = '';
    document.getElementById('dry-run-end').textContent = t('refused') + ' ' + (body.message || '');
    results.hidden = false;
    root.dataset.status = 'refused';
    status(body.message || t('refused'), 'bad');
  }

  results.addEventListener('click', function (event) {
    var row = event.target.closest('[data-element]');
    if (row && row.dataset.element) { focus(row.dataset.element); }
  });

  document.getElementById('dry-run-run').addEventListener('click', function () {
    var m = modeler();
    if (!m) { return; }
    var built;
    try {
      built = scenario();
    } catch (err) {
      status(err.message, 'bad');
      return;
    }
    clearMarks();
    delete root.dataset.status;
    status(t('running'));
    m.saveXML({ format: true }).then(function (saved) {
      return fetch(root.dataset.url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': root.dataset.csrf, Accept: 'application/json' },
        body: JSON.stringify({ filename: root.dataset.filename, xml: saved.xml, scenario: built })
      });
    }).then(function (response) {
      return response.json().then(function (body) { return { code: response.status, body: body }; });
    }).then(function (answer) {
      if (answer.body && answer.body.ok) {
        showReport(answer.body.report);
      } else {
        showRefusal(answer.body || {});
      }
    }).catch(function (err) {
      root.dataset.status = 'failed';
      status(t('failed', { reason: err.message }), 'bad');
    });
  });

  // A first scenario to start from: run to the end.
  addStep('run_to_end');
  fillSimplest(false);
}());
