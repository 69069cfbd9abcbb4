// Caseflow's properties provider: after bpmn.io's own provider, it keeps the groups that mean
// something to the engine (general: id and name; documentation; error, escalation, signal,
// link, compensation), drops what Caseflow ignores or edits itself (timer, message,
// multi-instance, ad-hoc completion, "executable"), and adds a group for every property the
// engine reads (engine/definitions, engine/spiff). Entry ids are the property names, which are
// the `field`s of the server's problems (problems.js).
import { Group } from '@bpmn-io/properties-panel';
import { is, isAny } from 'bpmn-js/lib/util/ModelUtil';

import {
  CalledElement,
  correlationsOf,
  CorrelationText,
  eventRoot,
  ExpressionText,
  ExtensionText,
  LaneRole,
  loopOf,
  LoopCheckbox,
  LoopMaximum,
  LoopVariable,
  MessageName,
  MessageRef,
  messageHolder,
  PropertyCheckbox,
  PropertyChoices,
  PropertySelect,
  PropertyText,
  roleMatcher,
  ScriptText,
  TaskLane,
  throwsMessage,
  timerDefinition,
  TimerType,
  TimerValue,
  variableCheck,
} from './entries.jsx';
import { ParametersGroup } from './parameters.jsx';
import { processOf, rootElements } from './spiff';

const REPLACED = new Set(['timer', 'message', 'multiInstance', 'adHocCompletion']);
const IGNORED_ENTRIES = new Set(['isExecutable']);

const KPI_FIELDS = [
  ['satisfactionField', 'Satisfaction score field (1–5, a number field of a form)'],
  ['promisedTimeField', 'Promised time field (the appointment or reply deadline)'],
  ['actualTimeField', 'Actual time field (when the service or reply happened)'],
  ['categoryField', 'Category field (for the category report)'],
];

const CONDITION_SOURCES = ['bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway', 'bpmn:ComplexGateway', 'bpmn:Activity'];

export default function CaseflowPropertiesProvider(propertiesPanel, translate, config) {
  this._translate = translate;
  this._config = config || {};
  propertiesPanel.registerProvider(500, this);
}

CaseflowPropertiesProvider.$inject = ['propertiesPanel', 'translate', 'config.caseflow'];

CaseflowPropertiesProvider.prototype.getGroups = function (element) {
  return (groups) => {
    const kept = groups
      .filter((group) => !REPLACED.has(group.id))
      .map((group) => (group.id === 'general'
        ? { ...group, entries: group.entries.filter((e) => !IGNORED_ENTRIES.has(e.id)) }
        : group));
    const general = kept.findIndex((group) => group.id === 'general');
    const ours = this._groups(element).filter((group) => group && group.entries.length);
    kept.splice(general + 1, 0, ...ours);
    return kept;
  };
};

CaseflowPropertiesProvider.prototype._group = function (id, label, entries) {
  return { id, label: this._translate(label), component: Group, entries: entries.filter(Boolean), shouldOpen: true };
};

CaseflowPropertiesProvider.prototype._groups = function (element) {
  const t = this._translate;
  const config = this._config;
  const process = processOf(element);
  const groups = [];
  if (process) {
    const ownerOf = () => processOf(element);
    const matcher = roleMatcher(config.roles || {});
    const formOptions = () => (config.forms || []).map((f) => [f, f]);
    groups.push(this._group('caseflow-case', 'Cases', [
      { id: 'casePrefix', component: PropertyText, prop: 'casePrefix', ownerOf, label: t('Case number prefix (1–6 capital letters)'),
        transform: (v) => v.toUpperCase(),
        validate: (v) => (!v || /^[A-Za-z]{1,6}$/.test(v.trim()) ? null : t('Write 1–6 letters, e.g. SA.')) },
      { id: 'startable', component: PropertyCheckbox, prop: 'startable', ownerOf, whenOff: 'false',
        label: t('Can be started on its own (untick for a process only others call)') },
      { id: 'startRoles', component: PropertyChoices, prop: 'startRoles', ownerOf, label: t('Roles that may start it'),
        description: t('None ticked: the role of the first user task, and supervisors'),
        choices: Object.keys(config.roles || {}).map((id) => [id, `${config.roles[id]} (${id})`]),
        matches: matcher.matches },
    ]));
    const messages = rootElements(process, 'bpmn:Message');
    groups.push(this._group('caseflow-start', 'Start forms and online booking', [
      { id: 'startForm', component: PropertySelect, prop: 'startForm', ownerOf, options: formOptions, label: t('Start form') },
      { id: 'staffStartForm', component: PropertySelect, prop: 'staffStartForm', ownerOf, options: formOptions,
        label: t('Start form for staff (phone, API)') },
      { id: 'portalTitle', component: PropertyText, prop: 'portalTitle', ownerOf, label: t('Online booking page title'),
        description: t('Empty: customers cannot book it online. Needs a start form.') },
      ...messages.map((m) => ({
        id: `messageForm:${m.get('name')}`, component: PropertySelect, prop: `messageForm:${m.get('name')}`, ownerOf,
        options: formOptions, label: `${t("Form of the customer's message")} ${m.get('name')}`,
      })),
    ]));
    groups.push(this._group('caseflow-kpi', 'Figures (KPI fields)', KPI_FIELDS.map(([prop, label]) => ({
      id: prop, component: PropertyText, prop, ownerOf, label: t(label), validate: variableCheck(t),
    }))));
    groups.push({ id: 'caseflow-parameters', label: t('Process parameters'), component: ParametersGroup, entries: [{ id: 'parameters' }], ownerOf });
  }

  if (is(element, 'bpmn:Lane')) {
    groups.push(this._group('caseflow-lane', 'Role', [
      { id: 'role', component: LaneRole, label: t('Role of the lane'), roles: config.roles || {} },
    ]));
  }

  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
    const summaries = config.summaries || [];
    const labels = config.summaryLabels || {};
    groups.push(this._group('caseflow-task', 'Task', [
      is(element, 'bpmn:UserTask') ? {
        id: 'formJsonSchemaFilename', component: PropertySelect, prop: 'formJsonSchemaFilename',
        options: () => (config.forms || []).map((f) => [f, f]), label: t('Form'),
        none: t('— none (confirmation only) —'), unknown: t('not a deployed form'),
      } : null,
      { id: 'assigneeExpression', component: PropertyText, prop: 'assigneeExpression',
        label: t('Assignee (expression giving a user name; empty: the whole role)'), placeholder: '"alice"' },
      { id: 'lane', component: TaskLane, label: t('Lane (role)'), roles: config.roles || {} },
      { id: 'summary', component: PropertySelect, prop: 'summary', label: t('Counts in the summaries as'),
        options: () => summaries.map((s) => [s, labels[s] || s]) },
      { id: 'instructionsForEndUser', component: ExtensionText, type: 'spiffworkflow:InstructionsForEndUser', multiline: true,
        rows: 4, label: t('Instructions (a template: {{ variable }})') },
    ]));
  }

  if (is(element, 'bpmn:EndEvent')) {
    const labels = config.outcomeLabels || {};
    groups.push(this._group('caseflow-outcome', 'Outcome', [
      { id: 'outcome', component: PropertySelect, prop: 'outcome', label: t('How the case ended'),
        options: () => (config.outcomes || []).map((o) => [o, labels[o] || o]),
        description: t('Empty: this end event decides nothing about the case') },
    ]));
  }

  if (is(element, 'bpmn:SequenceFlow') && isAny(element.businessObject.get('sourceRef'), CONDITION_SOURCES)) {
    groups.push(this._group('caseflow-condition', 'Condition', [
      { id: 'conditionExpression', component: ExpressionText, prop: 'conditionExpression', multiline: true,
        label: t('Condition (Python expression)'), placeholder: 'approved == True' },
    ]));
  }

  const timer = timerDefinition(element);
  if (timer) {
    groups.push(this._group('caseflow-timer', 'Timer', [
      { id: 'timerType', component: TimerType, label: t('Kind of timer') },
      { id: 'timerValue', component: TimerValue, label: t('When'),
        description: t('An ISO 8601 value in quotes ("P3D", "2026-12-01T09:00:00+08:00", "R3/PT1H"), a case variable, or a calendar helper for dates (working_days_from_now(2))') },
    ]));
  }

  const holder = messageHolder(element);
  if (holder) {
    const throwing = throwsMessage(element);
    groups.push(this._group('caseflow-message', 'Message', [
      { id: 'messageRef', component: MessageRef, label: t('Message') },
      holder.get('messageRef') ? { id: 'messageName', component: MessageName, label: t('Message name') } : null,
      throwing
        ? { id: 'messagePayload', component: ExtensionText, type: 'spiffworkflow:MessagePayload', targetOf: () => messageHolder(element),
          multiline: true, label: t('Payload (Python expression)'), placeholder: '{"reason": reason}' }
        : { id: 'messageVariable', component: ExtensionText, type: 'spiffworkflow:MessageVariable', targetOf: () => messageHolder(element),
          label: t('Variable that receives the payload'), validate: variableCheck(t) },
      ...correlationsOf(element).map(({ property, retrieval }) => ({
        id: `correlation:${property.id}`, component: CorrelationText, property, retrieval, label: t('Correlation'),
      })),
    ]));
  }

  const root = eventRoot(element);
  if (root) {
    const throwing = is(element, 'bpmn:IntermediateThrowEvent') || is(element, 'bpmn:EndEvent');
    groups.push(this._group('caseflow-event-payload', 'Payload', [
      throwing
        ? { id: 'payloadExpression', component: ExtensionText, type: 'spiffworkflow:PayloadExpression', targetOf: () => eventRoot(element),
          multiline: true, label: t('Payload (Python expression)') }
        : { id: 'variableName', component: ExtensionText, type: 'spiffworkflow:VariableName', targetOf: () => eventRoot(element),
          label: t('Variable that receives the payload'), validate: variableCheck(t) },
    ]));
  }

  if (is(element, 'bpmn:CallActivity')) {
    groups.push(this._group('caseflow-call', 'Called process', [
      { id: 'calledElement', component: CalledElement, label: t('Process to call'), processes: config.processes || [] },
    ]));
  }

  if (is(element, 'bpmn:BusinessRuleTask')) {
    groups.push(this._group('caseflow-decision', 'Decision', [
      { id: 'calledDecisionId', component: ExtensionText, type: 'spiffworkflow:CalledDecisionId', label: t('Decision id (DMN)'),
        description: t('The id of a decision in a DMN file deployed with the process') },
    ]));
  }

  const loop = isAny(element, ['bpmn:Activity']) && loopOf(element);
  if (loop && is(loop, 'bpmn:MultiInstanceLoopCharacteristics')) {
    const loopOfElement = () => loopOf(element);
    groups.push(this._group('caseflow-multi-instance', 'Multi-instance', [
      { id: 'isSequential', component: LoopCheckbox, prop: 'isSequential', label: t('One after another (sequential)') },
      { id: 'loopCardinality', component: ExpressionText, prop: 'loopCardinality', targetOf: loopOfElement,
        label: t('How many (Python expression)'), description: t('Or a collection below, not both') },
      { id: 'loopDataInputRef', component: LoopVariable, prop: 'loopDataInputRef', label: t('For each item of (list variable)') },
      { id: 'inputDataItem', component: LoopVariable, prop: 'inputDataItem', label: t('Item variable') },
      { id: 'loopDataOutputRef', component: LoopVariable, prop: 'loopDataOutputRef', label: t('Collect the results in (variable)') },
      { id: 'outputDataItem', component: LoopVariable, prop: 'outputDataItem', label: t('Result variable of each instance') },
      { id: 'completionCondition', component: ExpressionText, prop: 'completionCondition', targetOf: loopOfElement,
        label: t('Done early when (Python expression)') },
    ]));
  } else if (loop && is(loop, 'bpmn:StandardLoopCharacteristics')) {
    groups.push(this._group('caseflow-loop', 'Loop', [
      { id: 'loopCondition', component: ExpressionText, prop: 'loopCondition', targetOf: () => loopOf(element),
        label: t('Repeat until (Python expression)') },
      { id: 'loopMaximum', component: LoopMaximum, label: t('At most (times)') },
      { id: 'testBefore', component: LoopCheckbox, prop: 'testBefore', label: t('Test before each round') },
    ]));
  }

  if (is(element, 'bpmn:Activity')) {
    groups.push(this._group('caseflow-scripts', 'Scripts', [
      is(element, 'bpmn:ScriptTask') ? { id: 'script', component: ScriptText, label: t('Script (Python)') } : null,
      { id: 'preScript', component: ExtensionText, type: 'spiffworkflow:PreScript', multiline: true, label: t('Before the task (Python)') },
      { id: 'postScript', component: ExtensionText, type: 'spiffworkflow:PostScript', multiline: true, label: t('After the task (Python)') },
    ]));
  }
  return groups;
};
