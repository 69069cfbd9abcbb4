// The server's problems on the fields they belong to. The check endpoint answers each problem
// with the element it is in and, where the engine knows it, the property (`field`); the entry
// of that property in the panel shows the message (bpmn-js-properties-panel's
// "propertiesPanel.setErrors"), for whichever element is selected.
import { is } from 'bpmn-js/lib/util/ModelUtil';

import { correlationsOf } from './entries.jsx';
import { processOf } from './spiff';

// Problem.field -> the panel entry showing it, where they differ.
const ENTRY_OF_FIELD = {
  timeDuration: 'timerValue',
  timeDate: 'timerValue',
  timeCycle: 'timerValue',
};

/** The ids a problem may name to belong to `element`: the element itself, and the process a
 * pool (or the canvas root) stands for. */
function idsOf(element) {
  const ids = [element.id];
  const bo = element.businessObject;
  if (bo && bo.id && bo.id !== element.id) { ids.push(bo.id); }
  const process = processOf(element);
  if (process) { ids.push(process.id); }
  return ids;
}

/** {entry id: message} of `problems` for `element`. */
export function entryErrors(element, problems) {
  if (!element || !problems || !problems.length) { return {}; }
  const ids = idsOf(element);
  const errors = {};
  const add = (entry, message) => {
    errors[entry] = errors[entry] ? `${errors[entry]} ${message}` : message;
  };
  const correlations = is(element, 'bpmn:FlowNode') ? correlationsOf(element) : [];
  problems.forEach((problem) => {
    if (!problem.field) { return; }
    if (problem.field === 'correlation') {
      correlations
        .filter(({ property }) => property.id === problem.element_id)
        .forEach(({ property }) => add(`correlation:${property.id}`, problem.message));
      return;
    }
    if (!ids.includes(problem.element_id)) { return; }
    add(ENTRY_OF_FIELD[problem.field] || problem.field, problem.message);
  });
  return errors;
}

/** The entry a problem is shown on, or null (to open it from the problem list). */
export function entryOf(problem) {
  if (!problem.field) { return null; }
  if (problem.field === 'correlation') { return `correlation:${problem.element_id}`; }
  return ENTRY_OF_FIELD[problem.field] || problem.field;
}

/**
 * Keeps the panel's errors in step with the last answer of the server and the selection:
 * `setProblems(list)` after each check; the errors follow the selected element.
 */
export default function FieldProblems(eventBus, selection, canvas) {
  this._eventBus = eventBus;
  this._selection = selection;
  this._canvas = canvas;
  this._problems = [];
  eventBus.on('propertiesPanel.updated', (event) => {
    if (event.element !== this._shown) { this._show(event.element); }
  });
}

FieldProblems.$inject = ['eventBus', 'selection', 'canvas'];

FieldProblems.prototype.setProblems = function (problems) {
  this._problems = problems || [];
  this._show(this._current());
};

FieldProblems.prototype.problems = function () {
  return this._problems;
};

FieldProblems.prototype._current = function () {
  const selected = this._selection.get();
  return selected.length === 1 ? selected[0] : this._canvas.getRootElement();
};

FieldProblems.prototype._show = function (element) {
  this._shown = element;
  this._eventBus.fire('propertiesPanel.setErrors', { errors: entryErrors(element, this._problems) });
};

/** Select the problem's element and open its field. */
FieldProblems.prototype.reveal = function (element, problem) {
  if (element) { this._selection.select(element); }
  const entry = entryOf(problem);
  if (entry) {
    // after the panel has drawn the newly selected element
    setTimeout(() => this._eventBus.fire('propertiesPanel.showEntry', { id: entry }), 0);
  }
};
