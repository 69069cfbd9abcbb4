/** @jsx h */
/** @jsxFrag Fragment */
// The entries of Caseflow's properties groups (provider.js): each edits one property the
// engine reads, under an entry id equal to the property's name (or Problem.field), so the
// server's problems land on the entry they belong to (problems.js).
import { h, Fragment } from '@bpmn-io/properties-panel/preact';
import {
  CheckboxEntry,
  SelectEntry,
  TextAreaEntry,
  TextFieldEntry,
  useError,
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';

import {
  getProperty,
  getText,
  rootElements,
  setProperty,
  setText,
} from './spiff';

const VARIABLE = /^[A-Za-z][A-Za-z0-9_]*$/;

function blank(value) {
  return value === undefined || value === null || String(value).trim() === '';
}

/** The variable-name check of fields that name a case variable. */
export function variableCheck(translate) {
  return (value) => (blank(value) || VARIABLE.test(value.trim())
    ? null
    : translate('Use letters, digits and _; start with a letter.'));
}

// ----- spiffworkflow:property ------------------------------------------------------------

/** A text field (or text area) writing spiffworkflow:property `prop` of `ownerOf(element)`. */
export function PropertyText(props) {
  const { element, id, label, description, prop, ownerOf, multiline, validate, transform, placeholder } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const bo = ownerOf ? ownerOf(element) : element.businessObject;
  const Entry = multiline ? TextAreaEntry : TextFieldEntry;
  return (
    <Entry
      element={element}
      id={id}
      label={label}
      description={description}
      placeholder={placeholder}
      debounce={debounce}
      validate={validate}
      monospace={multiline}
      autoResize={multiline}
      getValue={() => getProperty(bo, prop)}
      setValue={(value, error) => {
        if (error) { return; }
        let text = (value || '').trim();
        if (transform) { text = transform(text); }
        setProperty(injector, element, bo, prop, text);
      }}
    />
  );
}

/** A drop-down writing spiffworkflow:property `prop`; `options(element)` gives [value, label]
 * pairs; the empty value removes the property. A value not among the options stays listed
 * (marked), so opening a diagram never changes it silently. */
export function PropertySelect(props) {
  const { element, id, label, description, prop, ownerOf, options, none, unknown } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const bo = ownerOf ? ownerOf(element) : element.businessObject;
  const getOptions = () => {
    const current = getProperty(bo, prop);
    const list = [['', none || translate('— none —')], ...options(element)];
    if (current && !list.some(([value]) => value === current)) {
      list.push([current, `${current} (${unknown || translate('unknown')})`]);
    }
    return list.map(([value, text]) => ({ value, label: text }));
  };
  return (
    <SelectEntry
      element={element}
      id={id}
      label={label}
      description={description}
      getValue={() => getProperty(bo, prop)}
      setValue={(value) => setProperty(injector, element, bo, prop, value)}
      getOptions={getOptions}
    />
  );
}

export function PropertyCheckbox(props) {
  const { element, id, label, description, prop, ownerOf, whenOff, whenOn } = props;
  const injector = useService('injector');
  const bo = ownerOf ? ownerOf(element) : element.businessObject;
  return (
    <CheckboxEntry
      element={element}
      id={id}
      label={label}
      description={description}
      getValue={() => getProperty(bo, prop) !== whenOff}
      setValue={(checked) => setProperty(injector, element, bo, prop, checked ? (whenOn || '') : whenOff)}
    />
  );
}

/** Several check boxes kept as one comma-separated property (startRoles). */
export function PropertyChoices(props) {
  const { element, id, label, description, prop, ownerOf, choices, matches } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const error = useError(id);
  const bo = ownerOf ? ownerOf(element) : element.businessObject;
  const written = getProperty(bo, prop).split(/[,，]/).map((n) => n.trim()).filter(Boolean);
  const picked = (value) => written.some((name) => matches(name, value));
  const unknown = written.filter((name) => !choices.some(([value]) => matches(name, value)));
  const toggle = (value, on) => {
    const kept = written.filter((name) => !matches(name, value));
    setProperty(injector, element, bo, prop, (on ? [...kept, value] : kept).join(', '));
  };
  return (
    <div class={`bio-properties-panel-entry caseflow-choices${error ? ' has-error' : ''}`} data-entry-id={id}>
      <div class="bio-properties-panel-label">{label}</div>
      {choices.map(([value, text]) => (
        <label class="caseflow-choice" key={value}>
          <input
            type="checkbox"
            name={`${id}:${value}`}
            checked={picked(value)}
            onChange={(event) => toggle(value, event.target.checked)}
          />
          {' '}{text}
        </label>
      ))}
      {unknown.length ? (
        <div class="bio-properties-panel-error">{translate('Not a known role')}: {unknown.join(', ')}</div>
      ) : null}
      {error ? <div class="bio-properties-panel-error">{error}</div> : null}
      {description ? <div class="bio-properties-panel-description">{description}</div> : null}
    </div>
  );
}

// ----- single-text spiffworkflow extensions (scripts, instructions, message data) ---------

export function ExtensionText(props) {
  const { element, id, label, description, type, targetOf, multiline, rows, placeholder, validate } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const bo = targetOf ? targetOf(element) : element.businessObject;
  const Entry = multiline ? TextAreaEntry : TextFieldEntry;
  return (
    <Entry
      element={element}
      id={id}
      label={label}
      description={description}
      placeholder={placeholder}
      debounce={debounce}
      monospace={multiline}
      rows={rows}
      autoResize={multiline}
      validate={validate}
      getValue={() => getText(bo, type)}
      setValue={(value, error) => {
        if (error) { return; }
        setText(injector, element, bo, type, blank(value) ? '' : value);
      }}
    />
  );
}

// ----- standard BPMN expressions -----------------------------------------------------------

function expressionBody(value) {
  return value && value.get ? value.get('body') || '' : '';
}

/** A bpmn:FormalExpression property (`prop`) of `targetOf(element)`: a condition, a loop
 * cardinality, a completion condition. */
export function ExpressionText(props) {
  const { element, id, label, description, prop, targetOf, multiline, placeholder } = props;
  const debounce = useService('debounceInput');
  const bpmnFactory = useService('bpmnFactory');
  const modeling = useService('modeling');
  const Entry = multiline ? TextAreaEntry : TextFieldEntry;
  const target = () => (targetOf ? targetOf(element) : element.businessObject);
  return (
    <Entry
      element={element}
      id={id}
      label={label}
      description={description}
      placeholder={placeholder}
      debounce={debounce}
      monospace
      autoResize={multiline}
      getValue={() => expressionBody(target() && target().get(prop))}
      setValue={(value) => {
        const expression = blank(value)
          ? undefined
          : bpmnFactory.create('bpmn:FormalExpression', { body: value });
        modeling.updateModdleProperties(element, target(), { [prop]: expression });
      }}
    />
  );
}

/** The script of a script task (Python). */
export function ScriptText(props) {
  const { element, id, label, description } = props;
  const debounce = useService('debounceInput');
  const modeling = useService('modeling');
  return (
    <TextAreaEntry
      element={element}
      id={id}
      label={label}
      description={description}
      debounce={debounce}
      monospace
      rows={6}
      autoResize
      getValue={() => element.businessObject.get('script') || ''}
      setValue={(value) => modeling.updateProperties(element, { scriptFormat: 'python', script: value || undefined })}
    />
  );
}

// ----- lanes: a lane is a role --------------------------------------------------------------

export function roleMatcher(roles) {
  const aliases = {};
  Object.keys(roles || {}).forEach((id) => {
    const names = roles[id] || '';
    aliases[id] = [id, names.trim(), ...names.split('/').map((a) => a.trim())]
      .filter(Boolean).map((a) => a.toLowerCase());
  });
  return {
    roleFor(name) {
      const wanted = (name || '').trim().toLowerCase();
      return Object.keys(aliases).find((id) => aliases[id].includes(wanted)) || null;
    },
    matches(name, id) {
      return (aliases[id] || []).includes((name || '').trim().toLowerCase());
    },
  };
}

/** The role a lane stands for, chosen from the roles: writes the lane's name (the role's
 * first Chinese name), which is what the engine reads. */
export function LaneRole(props) {
  const { element, id, label, roles } = props;
  const modeling = useService('modeling');
  const translate = useService('translate');
  const matcher = roleMatcher(roles);
  const current = matcher.roleFor(element.businessObject.get('name'));
  const getOptions = () => {
    const list = Object.keys(roles).map((role) => ({ value: role, label: `${roles[role]} (${role})` }));
    if (!current) { list.unshift({ value: '', label: translate('Not a known role') }); }
    return list;
  };
  return (
    <SelectEntry
      element={element}
      id={id}
      label={label}
      description={current
        ? <span class="hint">{translate('Role')}: {current}</span>
        : <span class="hint bad">{translate('Not a known role')}</span>}
      getValue={() => current || ''}
      getOptions={getOptions}
      setValue={(role) => {
        if (role) { modeling.updateLabel(element, roles[role].split('/')[0].trim()); }
      }}
    />
  );
}

function lanes(registry) {
  return registry.filter((e) => e.type === 'bpmn:Lane');
}

export function laneOf(registry, element) {
  const cx = element.x + element.width / 2;
  const cy = element.y + element.height / 2;
  const inside = lanes(registry).filter((l) => cx >= l.x && cx <= l.x + l.width && cy >= l.y && cy <= l.y + l.height);
  inside.sort((a, b) => a.width * a.height - b.width * b.height); // the innermost lane wins
  return inside[0] || null;
}

/** The lane (role) of a task, moved by choosing another lane. */
export function TaskLane(props) {
  const { element, id, label, roles } = props;
  const registry = useService('elementRegistry');
  const modeling = useService('modeling');
  const translate = useService('translate');
  const matcher = roleMatcher(roles);
  const lane = laneOf(registry, element);
  const getOptions = () => {
    const list = lanes(registry).map((l) => {
      const name = l.businessObject.get('name') || l.id;
      const role = matcher.roleFor(l.businessObject.get('name'));
      return { value: l.id, label: role ? name : `${name} (${translate('Not a known role')})` };
    });
    if (!lane) { list.unshift({ value: '', label: translate('Outside every lane: default role') }); }
    return list;
  };
  const role = lane && matcher.roleFor(lane.businessObject.get('name'));
  return (
    <SelectEntry
      element={element}
      id={id}
      label={label}
      description={lane ? (role ? `${translate('Role')}: ${role}` : translate('Not a known role')) : ''}
      getValue={() => (lane ? lane.id : '')}
      getOptions={getOptions}
      setValue={(laneId) => {
        const target = registry.get(laneId);
        if (!target) { return; }
        const dy = target.y + target.height / 2 - (element.y + element.height / 2);
        if (dy) { modeling.moveElements([element], { x: 0, y: dy }); }
      }}
    />
  );
}

// ----- timers -------------------------------------------------------------------------------

export const TIMER_KINDS = ['timeDuration', 'timeDate', 'timeCycle'];

export function timerDefinition(element) {
  const bo = element.businessObject;
  return (bo.get('eventDefinitions') || []).find((d) => is(d, 'bpmn:TimerEventDefinition')) || null;
}

function timerKind(definition) {
  return TIMER_KINDS.find((k) => definition.get(k)) || 'timeDuration';
}

export function TimerType(props) {
  const { element, id, label } = props;
  const modeling = useService('modeling');
  const translate = useService('translate');
  const definition = timerDefinition(element);
  const labels = { timeDuration: translate('Duration'), timeDate: translate('Date'), timeCycle: translate('Cycle') };
  return (
    <SelectEntry
      element={element}
      id={id}
      label={label}
      getValue={() => timerKind(definition)}
      getOptions={() => TIMER_KINDS.map((k) => ({ value: k, label: labels[k] }))}
      setValue={(kind) => {
        const old = timerKind(definition);
        if (kind === old) { return; }
        modeling.updateModdleProperties(element, definition, { [old]: undefined, [kind]: definition.get(old) });
      }}
    />
  );
}

export function TimerValue(props) {
  const { element, id, label, description } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const definition = timerDefinition(element);
  return (
    <TextFieldEntry
      element={element}
      id={id}
      label={label}
      description={description}
      placeholder={'"P3D"'}
      debounce={debounce}
      getValue={() => expressionBody(definition.get(timerKind(definition)))}
      setValue={(value) => {
        const kind = timerKind(definition);
        modeling.updateModdleProperties(element, definition, {
          [kind]: blank(value) ? undefined : bpmnFactory.create('bpmn:FormalExpression', { body: value.trim() }),
        });
      }}
    />
  );
}

// ----- messages -----------------------------------------------------------------------------

/** Where an element's message lives: its message event definition, or the element itself
 * for send and receive tasks. */
export function messageHolder(element) {
  const bo = element.businessObject;
  if (is(bo, 'bpmn:SendTask') || is(bo, 'bpmn:ReceiveTask')) { return bo; }
  return (bo.get('eventDefinitions') || []).find((d) => is(d, 'bpmn:MessageEventDefinition')) || null;
}

export function throwsMessage(element) {
  return is(element, 'bpmn:SendTask') || is(element, 'bpmn:IntermediateThrowEvent') || is(element, 'bpmn:EndEvent');
}

export function MessageRef(props) {
  const { element, id, label, description } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const canvas = useService('canvas');
  const translate = useService('translate');
  const holder = messageHolder(element);
  const messages = rootElements(element.businessObject, 'bpmn:Message');
  const NEW = '\u0000new';
  return (
    <SelectEntry
      element={element}
      id={id}
      label={label}
      description={description}
      getValue={() => (holder.get('messageRef') ? holder.get('messageRef').id : '')}
      getOptions={() => [
        { value: '', label: translate('— none —') },
        ...messages.map((m) => ({ value: m.id, label: m.get('name') || m.id })),
        { value: NEW, label: translate('New message…') },
      ]}
      setValue={(value) => {
        let message = messages.find((m) => m.id === value);
        if (value === NEW) {
          const name = window.prompt(translate('Name of the new message (e.g. change_request)'));
          if (!name) { return; }
          const definitions = canvas.getRootElement().businessObject.$parent;
          message = bpmnFactory.create('bpmn:Message', { name: name.trim() });
          message.$parent = definitions;
          modeling.updateModdleProperties(element, definitions, {
            rootElements: [...definitions.get('rootElements'), message],
          });
        }
        modeling.updateModdleProperties(element, holder, { messageRef: message || undefined });
      }}
    />
  );
}

/** The message's name (what other processes and the API send it by). */
export function MessageName(props) {
  const { element, id, label } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  const holder = messageHolder(element);
  const message = holder && holder.get('messageRef');
  return (
    <TextFieldEntry
      element={element}
      id={id}
      label={label}
      debounce={debounce}
      getValue={() => (message ? message.get('name') || '' : '')}
      setValue={(value) => modeling.updateModdleProperties(element, message, { name: (value || '').trim() })}
    />
  );
}

/** The correlation properties that read something of this message: each one's retrieval
 * expression (messagePath, a Python expression over the payload). */
export function correlationsOf(element) {
  const holder = messageHolder(element);
  const message = holder && holder.get('messageRef');
  if (!message) { return []; }
  const found = [];
  rootElements(element.businessObject, 'bpmn:CorrelationProperty').forEach((property) => {
    (property.get('correlationPropertyRetrievalExpression') || []).forEach((retrieval) => {
      if (retrieval.get('messageRef') === message) { found.push({ property, retrieval }); }
    });
  });
  return found;
}

export function CorrelationText(props) {
  const { element, id, label, property, retrieval } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  return (
    <TextFieldEntry
      element={element}
      id={id}
      label={`${label}: ${property.get('name') || property.id}`}
      debounce={debounce}
      getValue={() => expressionBody(retrieval.get('messagePath'))}
      setValue={(value) => modeling.updateModdleProperties(element, retrieval, {
        messagePath: bpmnFactory.create('bpmn:FormalExpression', { body: (value || '').trim() }),
      })}
    />
  );
}

// ----- call activities ------------------------------------------------------------------------

export function CalledElement(props) {
  const { element, id, label, description, processes } = props;
  const modeling = useService('modeling');
  const translate = useService('translate');
  const bo = element.businessObject;
  const local = rootElements(bo, 'bpmn:Process').map((p) => [p.id, p.get('name') || p.id]);
  const known = [...local, ...processes.map((p) => [p.key, p.name])];
  const getOptions = () => {
    const seen = new Set();
    const list = [{ value: '', label: translate('— none —') }];
    known.forEach(([key, name]) => {
      if (seen.has(key)) { return; }
      seen.add(key);
      list.push({ value: key, label: `${name} (${key})` });
    });
    const current = bo.get('calledElement');
    if (current && !seen.has(current)) { list.push({ value: current, label: `${current} (${translate('unknown')})` }); }
    return list;
  };
  return (
    <SelectEntry
      element={element}
      id={id}
      label={label}
      description={description}
      getValue={() => bo.get('calledElement') || ''}
      getOptions={getOptions}
      setValue={(value) => modeling.updateProperties(element, { calledElement: value || undefined })}
    />
  );
}

// ----- multi-instance and standard loops ---------------------------------------------------

export function loopOf(element) {
  return element.businessObject.get('loopCharacteristics') || null;
}

/** A loop input or output collection, or an item variable: SpiffWorkflow reads their text
 * (a case variable's name), which bpmn-moddle holds as a data reference whose id is the name. */
export function LoopVariable(props) {
  const { element, id, label, description, prop } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const translate = useService('translate');
  const loop = loopOf(element);
  const current = () => {
    const value = loop.get(prop);
    if (!value) { return ''; }
    return (prop === 'inputDataItem' || prop === 'outputDataItem') ? value.get('name') || value.id || '' : value.id || '';
  };
  return (
    <TextFieldEntry
      element={element}
      id={id}
      label={label}
      description={description}
      debounce={debounce}
      validate={variableCheck(translate)}
      getValue={current}
      setValue={(value, error) => {
        if (error) { return; }
        const name = (value || '').trim();
        let ref;
        if (name && (prop === 'inputDataItem' || prop === 'outputDataItem')) {
          ref = bpmnFactory.create('bpmn:DataInput', { id: name, name });
        } else if (name) {
          ref = bpmnFactory.create('bpmn:ItemAwareElement', { id: name });
        }
        if (ref) { ref.$parent = loop; }
        const changes = { [prop]: ref };
        if (prop === 'loopDataInputRef' && ref) { changes.loopCardinality = undefined; }
        modeling.updateModdleProperties(element, loop, changes);
      }}
    />
  );
}

export function LoopCheckbox(props) {
  const { element, id, label, description, prop } = props;
  const modeling = useService('modeling');
  const loop = loopOf(element);
  return (
    <CheckboxEntry
      element={element}
      id={id}
      label={label}
      description={description}
      getValue={() => Boolean(loop.get(prop))}
      setValue={(checked) => modeling.updateModdleProperties(element, loop, { [prop]: checked })}
    />
  );
}

export function LoopMaximum(props) {
  const { element, id, label } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  const translate = useService('translate');
  const loop = loopOf(element);
  return (
    <TextFieldEntry
      element={element}
      id={id}
      label={label}
      debounce={debounce}
      validate={(value) => (blank(value) || /^\d+$/.test(value.trim()) ? null : translate('Write a whole number.'))}
      getValue={() => (loop.get('loopMaximum') === undefined ? '' : String(loop.get('loopMaximum')))}
      setValue={(value, error) => {
        if (error) { return; }
        modeling.updateModdleProperties(element, loop, { loopMaximum: blank(value) ? undefined : Number(value) });
      }}
    />
  );
}

// ----- signals, errors and escalations: their payload ---------------------------------------

const REFS = [
  ['bpmn:SignalEventDefinition', 'signalRef'],
  ['bpmn:ErrorEventDefinition', 'errorRef'],
  ['bpmn:EscalationEventDefinition', 'escalationRef'],
];

/** The signal, error or escalation an event throws or catches (SpiffWorkflow reads the
 * payload expression and the variable from its extensions). */
export function eventRoot(element) {
  const defs = element.businessObject.get('eventDefinitions') || [];
  for (const [type, ref] of REFS) {
    const found = defs.find((d) => is(d, type));
    if (found && found.get(ref)) { return found.get(ref); }
  }
  return null;
}

export { Fragment };
