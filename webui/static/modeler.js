// The process owner's diagram pages: the bpmn-js modeler with a small properties panel
// (data-mode="edit"), or a read-only diagram with markers (data-mode="view").
// Save = check with the server's validator; each problem is marked on its element.
(function () {
  'use strict';
  var root = document.getElementById('modeler');
  var source = document.getElementById('diagram-xml');
  var container = document.getElementById('canvas');
  if (!root || !source || !container || typeof BpmnJS === 'undefined') { return; }
  var config = JSON.parse((document.getElementById('modeler-config') || {}).textContent || '{}');
  var strings = config.strings || {};
  var editing = root.dataset.mode === 'edit';
  var SPIFF_NS = 'http://spiffworkflow.org/bpmn/schema/1.0/core';
  var FORM_PROPERTY = 'formJsonSchemaFilename';

  var modeler = new BpmnJS(editing ? { container: container, keyboard: { bind: true } } : { container: container });
  window.caseflowModeler = modeler; // for browser tests and the curious

  function t(key, values) {
    var text = strings[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.replace('%(' + name + ')s', values[name]);
    });
    return text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === 'text') { node.textContent = attrs[name]; } else { node.setAttribute(name, attrs[name]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

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
    var modeling = modeler.get('modeling');
    var moddle = modeler.get('moddle');
    var registry = modeler.get('elementRegistry');
    var canvas = modeler.get('canvas');
    var overlays = modeler.get('overlays');
    var panel = document.getElementById('properties');
    var statusLine = document.getElementById('modeler-status');
    var problemList = document.getElementById('problems');
    var csrf = root.dataset.csrf;
    var marked = [];
    var dirty = false;
    var selected = null;

    function status(text, kind) {
      statusLine.textContent = text;
      statusLine.className = 'status' + (kind ? ' ' + kind : '');
    }

    modeler.on('commandStack.changed', function () {
      dirty = true;
      status(t('unsaved'));
      if (selected) { renderPanel(registry.get(selected.id) || null); }
    });
    modeler.on('selection.changed', function (event) {
      var list = event.newSelection || [];
      selected = list.length === 1 ? list[0] : null;
      renderPanel(selected);
    });
    window.addEventListener('beforeunload', function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = t('leave'); }
    });

    // --- spiffworkflow:properties, kept as the generic XML elements bpmn-js reads them as,
    // so every other extension (instructions, pre/post scripts …) stays as it was.
    function isType(node, localName) {
      return node && (node.$type === 'spiffworkflow:' + localName ||
        (node.$descriptor && node.$descriptor.ns && node.$descriptor.ns.uri === SPIFF_NS &&
          node.$descriptor.ns.localName === localName));
    }
    function spiffProperties(bo) {
      var values = (bo.extensionElements && bo.extensionElements.values) || [];
      return values.filter(function (v) { return isType(v, 'properties'); })[0] || null;
    }
    function getProperty(bo, name) {
      var props = spiffProperties(bo);
      var found = ((props && props.$children) || []).filter(function (c) {
        return isType(c, 'property') && c.name === name;
      })[0];
      return found ? found.value : '';
    }
    function setProperty(element, name, value, owner) {
      var bo = owner || element.businessObject;
      var oldValues = (bo.extensionElements && bo.extensionElements.values) || [];
      var oldProps = spiffProperties(bo);
      var children = ((oldProps && oldProps.$children) || []).filter(function (c) {
        return !(isType(c, 'property') && c.name === name);
      });
      if (value) {
        children.push(moddle.createAny('spiffworkflow:property', SPIFF_NS, { name: name, value: value }));
      }
      var values = oldValues.filter(function (v) { return v !== oldProps; });
      if (children.length) {
        var props = moddle.createAny('spiffworkflow:properties', SPIFF_NS, {});
        props.$children = children;
        values.push(props);
      }
      var ext = values.length ? moddle.create('bpmn:ExtensionElements', { values: values }) : undefined;
      modeling.updateModdleProperties(element, bo, { extensionElements: ext });
    }

    // --- roles: a lane names a role by its id or one of its Chinese names
    function roleFor(laneName) {
      var roles = config.roles || {};
      var name = (laneName || '').trim();
      if (roles[name]) { return name; }
      var found = null;
      Object.keys(roles).forEach(function (id) {
        var aliases = [roles[id].trim()].concat(roles[id].split('/').map(function (a) { return a.trim(); }));
        if (!found && aliases.indexOf(name) >= 0) { found = id; }
      });
      return found;
    }
    function roleHint(laneName) {
      var role = roleFor(laneName);
      if (!role) { return el('div', { 'class': 'hint bad', text: t('unknown_role') }); }
      return el('div', { 'class': 'hint', text: t('role') + ': ' + role + ' (' + config.roles[role] + ')' });
    }
    function laneOf(element) {
      var lanes = registry.filter(function (e) { return e.type === 'bpmn:Lane'; });
      var cx = element.x + element.width / 2;
      var cy = element.y + element.height / 2;
      var inside = lanes.filter(function (l) {
        return cx >= l.x && cx <= l.x + l.width && cy >= l.y && cy <= l.y + l.height;
      });
      // the innermost (smallest) lane wins
      inside.sort(function (a, b) { return a.width * a.height - b.width * b.height; });
      return inside[0] || null;
    }
    function moveToLane(element, lane) {
      var dy = lane.y + lane.height / 2 - (element.y + element.height / 2);
      if (dy) { modeling.moveElements([element], { x: 0, y: dy }); }
    }

    // --- the panel
    function field(label, input, hint) {
      return el('label', {}, [document.createTextNode(label), input, hint || null]);
    }
    function textInput(value, onChange, multiline) {
      var input = el(multiline ? 'textarea' : 'input', multiline ? { rows: '3', spellcheck: 'false' } : { type: 'text' });
      var last = value || '';
      input.value = last;
      input.addEventListener('change', function () {
        // a panel redrawn while this field had focus fires a second change: ignore it
        if (input.value === last) { return; }
        last = input.value;
        onChange(input.value);
      });
      return input;
    }
    function select(options, value, onChange) {
      var input = el('select');
      options.forEach(function (o) {
        var option = el('option', { value: o[0], text: o[1] });
        if (o[0] === value) { option.selected = true; }
        input.appendChild(option);
      });
      input.addEventListener('change', function () { onChange(input.value); });
      return input;
    }
    function expression(body) { return moddle.create('bpmn:FormalExpression', { body: body }); }

    function renderPanel(element) {
      panel.innerHTML = '';
      if (!element || element.type === 'label') {
        if (element && element.labelTarget) { return renderPanel(element.labelTarget); }
        panel.appendChild(el('p', { 'class': 'meta', text: t('nothing') }));
        return;
      }
      var bo = element.businessObject;
      panel.appendChild(el('h3', { text: element.type.replace('bpmn:', '') }));
      panel.dataset.element = element.id;

      var idHint = el('div', { 'class': 'hint' });
      panel.appendChild(field(t('id'), textInput(bo.id, function (value) {
        value = value.trim();
        if (value === bo.id) { return; }
        if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(value)) { idHint.textContent = t('id_invalid'); idHint.className = 'hint bad'; return; }
        if (registry.get(value)) { idHint.textContent = t('id_taken'); idHint.className = 'hint bad'; return; }
        modeling.updateProperties(element, { id: value });
      }), idHint));

      if (element.type !== 'bpmn:Process') {
        var nameHint = element.type === 'bpmn:Lane' ? roleHint(bo.name) : null;
        panel.appendChild(field(t('name'), textInput(bo.name, function (value) {
          modeling.updateLabel(element, value);
        }), nameHint));
      }

      if (element.type === 'bpmn:Participant' && bo.processRef) {
        var process = bo.processRef;
        panel.appendChild(field(t('process_name'), textInput(process.name, function (value) {
          modeling.updateModdleProperties(element, process, { name: value });
        })));
        panel.appendChild(field(t('case_prefix'), textInput(getProperty(process, 'casePrefix'), function (value) {
          setProperty(element, 'casePrefix', value.trim().toUpperCase(), process);
        })));
        var startable = el('input', { type: 'checkbox', name: 'startable' });
        startable.checked = getProperty(process, 'startable') !== 'false';
        startable.addEventListener('change', function () {
          setProperty(element, 'startable', startable.checked ? '' : 'false', process);
        });
        panel.appendChild(el('label', { 'class': 'check' }, [startable, document.createTextNode(' ' + t('startable'))]));
        // Who may start it (staff, API, command line): role ids or lane names, comma-separated;
        // empty means the role of the first user task and supervisors. Checked again at deploy.
        var startRolesHint = el('div', { 'class': 'hint' });
        var showStartRoles = function (value) {
          var names = value.split(/[,，]/).map(function (n) { return n.trim(); }).filter(Boolean);
          var unknown = names.filter(function (n) { return !roleFor(n); });
          startRolesHint.className = unknown.length ? 'hint bad' : 'hint';
          startRolesHint.textContent = unknown.length
            ? t('unknown_role') + ': ' + unknown.join(', ')
            : (names.length ? t('role') + ': ' + names.map(roleFor).join(', ') : t('start_roles_default'));
          return names;
        };
        var startRoles = textInput(getProperty(process, 'startRoles'), function (value) {
          setProperty(element, 'startRoles', showStartRoles(value).join(', '), process);
        });
        startRoles.name = 'startRoles';
        showStartRoles(startRoles.value);
        panel.appendChild(field(t('start_roles'), startRoles, startRolesHint));
      }

      if (element.type === 'bpmn:UserTask') {
        var forms = [['', t('no_form')]].concat((config.forms || []).map(function (f) { return [f, f]; }));
        var current = getProperty(bo, FORM_PROPERTY);
        if (current && (config.forms || []).indexOf(current) < 0) { forms.push([current, current]); }
        panel.appendChild(field(t('form'), select(forms, current, function (value) {
          setProperty(element, FORM_PROPERTY, value);
        })));
        var assignee = textInput(getProperty(bo, 'assigneeExpression'), function (value) {
          setProperty(element, 'assigneeExpression', value.trim());
        });
        assignee.name = 'assigneeExpression';
        panel.appendChild(field(t('assignee'), assignee));
      }

      if (/Task$|Event$|Gateway$|^bpmn:SubProcess$|^bpmn:CallActivity$/.test(element.type) && element.type !== 'bpmn:BoundaryEvent') {
        var lanes = registry.filter(function (e) { return e.type === 'bpmn:Lane'; });
        if (lanes.length) {
          var lane = laneOf(element);
          var options = lanes.map(function (l) {
            var role = roleFor(l.businessObject.name);
            return [l.id, (l.businessObject.name || l.id) + (role ? '' : ' (' + t('unknown_role') + ')')];
          });
          if (!lane) { options.unshift(['', t('no_lane')]); }
          panel.appendChild(field(t('lane'), select(options, lane ? lane.id : '', function (value) {
            var target = registry.get(value);
            if (target) { moveToLane(element, target); }
          }), lane ? roleHint(lane.businessObject.name) : null));
        }
      }

      if (element.type === 'bpmn:SequenceFlow') {
        var condition = bo.conditionExpression ? bo.conditionExpression.body : '';
        panel.appendChild(field(t('condition'), textInput(condition, function (value) {
          modeling.updateProperties(element, { conditionExpression: value.trim() ? expression(value) : undefined });
        }, true)));
      }

      var timer = (bo.eventDefinitions || []).filter(function (d) { return d.$type === 'bpmn:TimerEventDefinition'; })[0];
      if (timer) {
        var kinds = ['timeDuration', 'timeDate', 'timeCycle'];
        var kind = kinds.filter(function (k) { return timer[k]; })[0] || 'timeDuration';
        var body = timer[kind] ? timer[kind].body : '';
        var kindSelect = select([
          ['timeDuration', t('timer_duration')], ['timeDate', t('timer_date')], ['timeCycle', t('timer_cycle')]
        ], kind, function () { writeTimer(); });
        var bodyInput = textInput(body, function () { writeTimer(); });
        bodyInput.placeholder = '"P3D"';
        var writeTimer = function () {
          var props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
          if (bodyInput.value.trim()) { props[kindSelect.value] = expression(bodyInput.value.trim()); }
          modeling.updateModdleProperties(element, timer, props);
        };
        panel.appendChild(el('label', {}, [document.createTextNode(t('timer')), kindSelect, bodyInput]));
      }

      if (element.type === 'bpmn:ScriptTask') {
        panel.appendChild(field(t('script'), textInput(bo.script, function (value) {
          modeling.updateProperties(element, { scriptFormat: 'python', script: value });
        }, true)));
      }
    }
    renderPanel(null);

    // --- problems
    function clearProblems() {
      marked.forEach(function (id) { if (registry.get(id)) { canvas.removeMarker(id, 'model-problem'); } });
      marked = [];
      overlays.remove({ type: 'problem' });
      problemList.innerHTML = '';
    }
    function showProblems(problems) {
      clearProblems();
      problems.forEach(function (p) {
        var item = el('li');
        var target = p.element_id && registry.get(p.element_id);
        if (target) {
          if (marked.indexOf(p.element_id) < 0) {
            canvas.addMarker(p.element_id, 'model-problem');
            marked.push(p.element_id);
          }
          overlays.add(p.element_id, 'problem', {
            position: { bottom: -4, left: 0 },
            html: el('div', { 'class': 'problem-overlay', text: p.message })
          });
          var link = el('button', { type: 'button', 'class': 'link', text: p.element_id });
          link.addEventListener('click', function () {
            modeler.get('selection').select(target);
            canvas.scrollToElement(target);
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

    function check() {
      status(t('checking'));
      return post(config.validateUrl).then(report)
        .catch(function (err) { status(t('failed', { reason: err.message }), 'bad'); });
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

    // An imported diagram arrives checked: its problems are marked before the owner edits it,
    // and it counts as unsaved (nothing of it is stored until it is deployed).
    if (Array.isArray(config.problems)) {
      report({ ok: config.problems.length === 0, problems: config.problems });
    }
    if (config.imported) { dirty = true; }

    document.getElementById('btn-validate').addEventListener('click', check);
    document.getElementById('btn-deploy').addEventListener('click', deploy);
    document.getElementById('btn-download').addEventListener('click', download);
    document.addEventListener('keydown', function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === 's') { event.preventDefault(); check(); }
    });
  }
})();
