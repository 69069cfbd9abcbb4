/** @jsx h */
// Process parameters as a typed table: each row is one default the engine gives new cases
// ("default:<name>", a JSON value) with the unit and description kept beside it in
// "parameter:<name>" as JSON {"unit": …, "description": …} (checked at deploy,
// engine/definitions/properties.py). The server's problems for either property show on the
// row (entry ids "default:<name>" and "parameter:<name>").
import { h } from '@bpmn-io/properties-panel/preact';
import { useEffect, useRef, useState } from '@bpmn-io/properties-panel/preact/hooks';
import { useErrors } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';

import { propertyList, setProperties } from './spiff';

const VARIABLE = /^[A-Za-z][A-Za-z0-9_]*$/;
const DEFAULT = 'default:';
const PARAMETER = 'parameter:';
export const TYPES = ['number', 'text', 'boolean', 'list', 'json'];

export function parameterRows(bo) {
  const props = propertyList(bo);
  const about = {};
  props.forEach(([name, value]) => {
    if (name.startsWith(PARAMETER)) { about[name.slice(PARAMETER.length)] = value; }
  });
  return props
    .filter(([name]) => name.startsWith(DEFAULT))
    .map(([name, raw]) => {
      const variable = name.slice(DEFAULT.length);
      let meta = {};
      try { meta = JSON.parse(about[variable] || '{}') || {}; } catch (e) { meta = {}; }
      return {
        name: variable,
        raw,
        type: typeOf(raw),
        unit: typeof meta.unit === 'string' ? meta.unit : '',
        description: typeof meta.description === 'string' ? meta.description : '',
        about: about[variable],
      };
    });
}

export function typeOf(raw) {
  let value;
  try { value = JSON.parse(raw); } catch (e) { return 'json'; }
  if (typeof value === 'number') { return 'number'; }
  if (typeof value === 'string') { return 'text'; }
  if (typeof value === 'boolean') { return 'boolean'; }
  if (Array.isArray(value)) { return 'list'; }
  return 'json';
}

/** What the value cell shows for a stored JSON text of `type`. */
function shown(raw, type) {
  if (type === 'text') {
    try { return JSON.parse(raw); } catch (e) { return raw; }
  }
  return raw;
}

/** The JSON to store for what was typed into a value cell of `type`, or an error. */
export function stored(text, type, translate) {
  const trimmed = (text || '').trim();
  if (type === 'text') { return { raw: JSON.stringify(text || '') }; }
  if (type === 'number') {
    if (!/^-?\d+(\.\d+)?$/.test(trimmed)) { return { error: translate('Write a number, e.g. 24 or 1.5.') }; }
    return { raw: String(Number(trimmed)) };
  }
  if (type === 'boolean') { return { raw: trimmed === 'true' ? 'true' : 'false' }; }
  let value;
  try { value = JSON.parse(trimmed); } catch (e) {
    return { error: type === 'list' ? translate('Write a JSON list, e.g. ["A", "B"].') : translate('Not a JSON value.') };
  }
  if (type === 'list' && !Array.isArray(value)) { return { error: translate('Write a JSON list, e.g. ["A", "B"].') }; }
  return { raw: trimmed };
}

function converted(raw, from, to) {
  let value;
  try { value = JSON.parse(raw); } catch (e) { value = raw; }
  if (to === 'number') { return String(Number(value) || 0); }
  if (to === 'text') { return JSON.stringify(value === null || value === undefined ? '' : (typeof value === 'string' ? value : JSON.stringify(value))); }
  if (to === 'boolean') { return value === true ? 'true' : 'false'; }
  if (to === 'list') { return Array.isArray(value) ? raw : JSON.stringify(value === '' || value === null ? [] : [value]); }
  return from === 'json' ? raw : JSON.stringify(value);
}

function aboutJson(unit, description) {
  const found = {};
  if (unit.trim()) { found.unit = unit.trim(); }
  if (description.trim()) { found.description = description.trim(); }
  return Object.keys(found).length ? JSON.stringify(found) : '';
}

/** An input that keeps what is typed and writes it after a pause (debounced) or on leaving. */
function Cell(props) {
  const { value, onCommit, name, label, check, multiline, placeholder, lazy } = props;
  const debounce = useService('debounceInput');
  const [text, setText] = useState(value);
  const [error, setError] = useState(null);
  const focused = useRef(false);
  const commit = useRef(null);
  if (!commit.current) {
    commit.current = debounce((next) => onCommit.current(next));
  }
  useEffect(() => { if (!focused.current) { setText(value); } }, [value]);
  const onInput = (event) => {
    const next = event.target.value;
    setText(next);
    const problem = check ? check(next) : null;
    setError(problem);
    if (!problem && !lazy) { commit.current(next); }
  };
  // A lazy cell (the name: renaming re-keys the row) writes when it is left.
  const onChange = (event) => {
    if (lazy && !(check && check(event.target.value))) { onCommit.current(event.target.value); }
  };
  const Tag = multiline ? 'textarea' : 'input';
  return (
    <div class="caseflow-cell">
      <Tag
        class={`bio-properties-panel-input${error ? ' has-error' : ''}`}
        name={name}
        aria-label={label}
        placeholder={placeholder}
        value={text}
        rows={multiline ? 2 : undefined}
        spellcheck={false}
        onInput={onInput}
        onChange={onChange}
        onFocus={() => { focused.current = true; }}
        onBlur={() => { focused.current = false; }}
      />
      {error ? <div class="bio-properties-panel-error">{error}</div> : null}
    </div>
  );
}

function useLatest(fn) {
  const ref = useRef(fn);
  ref.current = fn;
  return ref;
}

function Row(props) {
  const { element, bo, row, rows, errors } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const write = (changes) => setProperties(injector, element, bo, changes);
  const typeLabels = {
    number: translate('number'),
    text: translate('text'),
    boolean: translate('yes/no'),
    list: translate('list'),
    json: translate('JSON'),
  };
  const rename = useLatest((next) => {
    const name = next.trim();
    if (name === row.name) { return; }
    const changes = { [DEFAULT + row.name]: [DEFAULT + name, row.raw] };
    if (row.about !== undefined) { changes[PARAMETER + row.name] = [PARAMETER + name, row.about]; }
    write(changes);
  });
  const setValue = useLatest((text) => {
    const found = stored(text, row.type, translate);
    if (!found.error) { write({ [DEFAULT + row.name]: found.raw }); }
  });
  const setUnit = useLatest((unit) => write({ [PARAMETER + row.name]: aboutJson(unit, row.description) }));
  const setDescription = useLatest((description) => write({ [PARAMETER + row.name]: aboutJson(row.unit, description) }));
  const checkName = (next) => {
    const name = next.trim();
    if (!VARIABLE.test(name)) { return translate('Use letters, digits and _; start with a letter.'); }
    if (name !== row.name && rows.some((r) => r.name === name)) { return translate('This name is already used.'); }
    return null;
  };
  const problem = errors[DEFAULT + row.name] || errors[PARAMETER + row.name];
  const valueCell = row.type === 'boolean'
    ? (
      <select
        class="bio-properties-panel-input"
        name={`value:${row.name}`}
        aria-label={translate('Value')}
        value={row.raw === 'true' ? 'true' : 'false'}
        onChange={(event) => setValue.current(event.target.value)}
      >
        <option value="true">{translate('yes (true)')}</option>
        <option value="false">{translate('no (false)')}</option>
      </select>
    )
    : (
      <Cell
        name={`value:${row.name}`}
        label={translate('Value')}
        value={shown(row.raw, row.type)}
        onCommit={setValue}
        check={(text) => stored(text, row.type, translate).error || null}
      />
    );
  return [
    <tr key={`${row.name}:1`} class={problem ? 'has-error' : ''} data-entry-id={DEFAULT + row.name} data-parameter={row.name}>
      <td><Cell name={`name:${row.name}`} label={translate('Name')} value={row.name} onCommit={rename} check={checkName} lazy /></td>
      <td>
        <select
          class="bio-properties-panel-input"
          name={`type:${row.name}`}
          aria-label={translate('Type')}
          value={row.type}
          onChange={(event) => write({ [DEFAULT + row.name]: converted(row.raw, row.type, event.target.value) })}
        >
          {TYPES.map((type) => <option value={type} key={type}>{typeLabels[type]}</option>)}
        </select>
      </td>
      <td>{valueCell}</td>
      <td><Cell name={`unit:${row.name}`} label={translate('Unit')} value={row.unit} onCommit={setUnit} placeholder={translate('e.g. hours')} /></td>
      <td>
        <button
          type="button"
          class="caseflow-remove"
          title={translate('Remove the parameter')}
          aria-label={translate('Remove the parameter')}
          onClick={() => write({ [DEFAULT + row.name]: '', [PARAMETER + row.name]: '' })}
        >×</button>
      </td>
    </tr>,
    <tr key={`${row.name}:2`} class="caseflow-description" data-entry-id={PARAMETER + row.name}>
      <td colspan="5">
        <Cell name={`description:${row.name}`} label={translate('Description')} value={row.description} onCommit={setDescription} placeholder={translate('What it decides')} />
        {problem ? <div class="bio-properties-panel-error" role="alert">{problem}</div> : null}
      </td>
    </tr>,
  ];
}

/** The "Process parameters" group (a group component of its own: a table, not entries). */
export function ParametersGroup(props) {
  const { element, label, ownerOf } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const errors = useErrors();
  const [open, setOpen] = useState(true);
  const bo = ownerOf(element);
  const rows = parameterRows(bo);
  const failing = rows.some((r) => errors[DEFAULT + r.name] || errors[PARAMETER + r.name]);
  const add = () => {
    let n = rows.length + 1;
    while (rows.some((r) => r.name === `parameter_${n}`)) { n += 1; }
    setProperties(injector, element, bo, { [`${DEFAULT}parameter_${n}`]: '0' });
  };
  return (
    <div class="bio-properties-panel-group caseflow-parameters" data-group-id="group-caseflow-parameters">
      <div class={`bio-properties-panel-group-header${open ? ' open' : ''}`} onClick={() => setOpen(!open)}>
        <div class="bio-properties-panel-group-header-title">{label}</div>
        <div class="bio-properties-panel-group-header-buttons">
          {failing ? <div class="bio-properties-panel-dot bio-properties-panel-dot--error" title={translate('Section contains an error')} /> : null}
          {rows.length ? <span class="caseflow-count">{rows.length}</span> : null}
        </div>
      </div>
      <div class={`bio-properties-panel-group-entries${open ? ' open' : ''}`}>
        <table class="caseflow-parameter-table">
          <thead>
            <tr>
              <th>{translate('Name')}</th>
              <th>{translate('Type')}</th>
              <th>{translate('Value')}</th>
              <th>{translate('Unit')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => <Row key={row.name} element={element} bo={bo} row={row} rows={rows} errors={errors} />)}
          </tbody>
        </table>
        {rows.length ? null : <p class="bio-properties-panel-description">{translate('No parameters yet.')}</p>}
        <p class="caseflow-parameter-add">
          <button type="button" class="bio-properties-panel-add-entry caseflow-add" onClick={add}>+ {translate('Add a parameter')}</button>
        </p>
        <p class="bio-properties-panel-description">{translate('New cases start with these values; running cases keep the values of their version.')}</p>
      </div>
    </div>
  );
}
