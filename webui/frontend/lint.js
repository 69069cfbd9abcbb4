// bpmnlint in the modeler: a packed configuration (config + resolver, what bpmn-js-bpmnlint
// takes) of a few of bpmnlint's recommended rules and rules of ours. Ours flag only what is
// really wrong for the engine; the server's check at deploy stays the authority
// (engine/definitions), these show it while drawing.
import { is } from 'bpmnlint-utils';

import startEventRequired from 'bpmnlint/rules/start-event-required';
import endEventRequired from 'bpmnlint/rules/end-event-required';
import noDisconnected from 'bpmnlint/rules/no-disconnected';
import noDuplicateSequenceFlows from 'bpmnlint/rules/no-duplicate-sequence-flows';
import fakeJoin from 'bpmnlint/rules/fake-join';
import superfluousGateway from 'bpmnlint/rules/superfluous-gateway';
import singleBlankStartEvent from 'bpmnlint/rules/single-blank-start-event';
import eventSubProcessTypedStartEvent from 'bpmnlint/rules/event-sub-process-typed-start-event';

import { roleMatcher } from './entries.jsx';

// The same shape of ISO 8601 duration engine/definitions/timers.py accepts.
const ISO_DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const ISO_CYCLE = /^R\d*\/.+/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function propertyOf(node, name) {
  const values = (node.extensionElements && node.extensionElements.values) || [];
  for (const block of values) {
    if (block.$type !== 'spiffworkflow:Properties') { continue; }
    const found = (block.properties || []).find((p) => p.name === name);
    if (found) { return found.value || ''; }
  }
  return '';
}

/** What is wrong with a timer's text of `kind`, or null: the lint side of check_timer. */
export function timerProblem(kind, text, helpers, t) {
  const value = (text || '').trim();
  if (!value) { return t('The timer has no time.'); }
  if (/^[$#]\{.*\}$/.test(value) || /^=\s*\w+$/.test(value)) { return t("Write the variable's name, not a Camunda expression."); }
  if (NAME.test(value)) { return null; } // a case variable, checked when the timer starts
  let literal = null;
  const quoted = /^(["'])(.*)\1$/.exec(value);
  if (quoted) {
    literal = quoted[2].trim();
  } else if (ISO_DURATION.test(value.toUpperCase()) || ISO_CYCLE.test(value.toUpperCase()) || ISO_DATE.test(value)) {
    literal = value; // bare ISO text, quoted at deploy
  }
  if (literal !== null) {
    const upper = literal.toUpperCase();
    const ok = kind === 'timeDuration' ? ISO_DURATION.test(upper)
      : kind === 'timeCycle' ? ISO_CYCLE.test(upper)
        : ISO_DATE.test(literal);
    return ok ? null : t('Not a valid ISO 8601 value for this kind of timer.');
  }
  const call = /^([A-Za-z_]\w*)\s*\(/.exec(value);
  if (call && helpers.includes(call[1])) {
    return kind === 'timeDate' ? null : t('A calendar helper gives a date: use it in a date timer.');
  }
  return t('Write an ISO 8601 value in quotes ("P3D"), a case variable, or a calendar helper.');
}

function laneIsRole({ roles, t }) {
  const matcher = roleMatcher(roles || {});
  return {
    check(node, reporter) {
      if (is(node, 'bpmn:Lane') && !matcher.roleFor(node.name)) {
        reporter.report(node.id, t('The lane is not a known role.'));
      }
    },
  };
}

function userTaskForm({ forms, t }) {
  return {
    check(node, reporter) {
      if (!is(node, 'bpmn:UserTask')) { return; }
      const form = propertyOf(node, 'formJsonSchemaFilename').trim();
      // No form: the task is a confirmation. A named form must be deployed.
      if (form && !(forms || []).includes(form)) {
        reporter.report(node.id, `${t('The form is not deployed')}: ${form}`);
      }
    },
  };
}

function timerDefinition({ helpers, t }) {
  return {
    check(node, reporter) {
      if (!is(node, 'bpmn:Event')) { return; }
      (node.eventDefinitions || []).forEach((definition) => {
        if (!is(definition, 'bpmn:TimerEventDefinition')) { return; }
        const kind = ['timeDuration', 'timeDate', 'timeCycle'].find((k) => definition[k]);
        const problem = kind
          ? timerProblem(kind, definition[kind].body, helpers || [], t)
          : t('The timer has no time.');
        if (problem) { reporter.report(node.id, problem); }
      });
    },
  };
}

function gatewayDefault({ t }) {
  return {
    check(node, reporter) {
      if (!is(node, 'bpmn:ExclusiveGateway') && !is(node, 'bpmn:InclusiveGateway')) { return; }
      const outgoing = node.outgoing || [];
      if (outgoing.length < 2 || node.default) { return; }
      if (outgoing.some((flow) => flow.conditionExpression)) {
        reporter.report(node.id, t('The gateway has conditions but no default flow: a case that matches none stops here.'));
      }
    },
  };
}

const BPMNLINT = {
  'start-event-required': startEventRequired,
  'end-event-required': endEventRequired,
  'no-disconnected': noDisconnected,
  'no-duplicate-sequence-flows': noDuplicateSequenceFlows,
  'fake-join': fakeJoin,
  'superfluous-gateway': superfluousGateway,
  'single-blank-start-event': singleBlankStartEvent,
  'event-sub-process-typed-start-event': eventSubProcessTypedStartEvent,
};

const CASEFLOW = {
  'lane-is-role': laneIsRole,
  'user-task-form': userTaskForm,
  'timer-definition': timerDefinition,
  'gateway-default': gatewayDefault,
};

/** The packed configuration for bpmn-js-bpmnlint (`linting: {bpmnlint: …}`). */
export function lintConfig(config, translate) {
  const t = (text) => translate(text);
  const options = { roles: config.roles || {}, forms: config.forms || [], helpers: config.timerHelpers || [], t };
  return {
    config: {
      rules: {
        'start-event-required': 'error',
        'end-event-required': 'error',
        'no-disconnected': 'error',
        'no-duplicate-sequence-flows': 'error',
        'event-sub-process-typed-start-event': 'error',
        'fake-join': 'warn',
        'superfluous-gateway': 'warn',
        'single-blank-start-event': 'warn',
        'caseflow/lane-is-role': ['error', options],
        'caseflow/user-task-form': ['error', options],
        'caseflow/timer-definition': ['error', options],
        'caseflow/gateway-default': ['warn', options],
      },
    },
    resolver: {
      resolveRule(pkg, ruleName) {
        const rule = pkg === 'bpmnlint' ? BPMNLINT[ruleName] : pkg === 'bpmnlint-plugin-caseflow' ? CASEFLOW[ruleName] : null;
        if (!rule) { throw new Error(`unknown rule ${pkg}/${ruleName}`); }
        return rule;
      },
      resolveConfig() {
        return null;
      },
    },
  };
}
