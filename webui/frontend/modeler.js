// The modeler bundle (built by scripts/install-frontend.sh with esbuild into
// static/vendor/caseflow/, git-ignored): bpmn-js's modeler with bpmn.io's properties panel and
// Caseflow's properties provider, token simulation and bpmnlint with our rules, exposed as one
// global for the pages' plain scripts (webui/static/modeler.js).
import BpmnModeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
} from 'bpmn-js-properties-panel';
import TokenSimulationModule from 'bpmn-js-token-simulation';
import LintModule from 'bpmn-js-bpmnlint';

import spiffworkflow from './spiffworkflow.json';
import CaseflowPropertiesProvider from './provider';
import FieldProblems from './problems';
import { lintConfig } from './lint';
import { pageTranslations, TokenSimulationTranslations } from './translations';

const CaseflowModule = {
  __init__: ['caseflowPropertiesProvider', 'fieldProblems'],
  caseflowPropertiesProvider: ['type', CaseflowPropertiesProvider],
  fieldProblems: ['type', FieldProblems],
};

/** bpmn-js's translate, looking texts up in the page's strings (the server's gettext). */
function translateWith(strings) {
  return function translate(template, replacements) {
    const text = (strings && strings[template]) || template;
    return text.replace(/{([^}]+)}/g, (match, key) => (replacements && key in replacements ? replacements[key] : match));
  };
}

// SpiffWorkflow reads a multi-instance task's collections and item variables as the text of
// loopDataInputRef/loopDataOutputRef (a variable's name), which bpmn-moddle takes for a
// reference to an element that does not exist and drops on import. Put them back as
// references whose id is that name, so they show in the panel and survive a save.
function keepLoopVariables(modeler, warnings) {
  const bpmnFactory = modeler.get('bpmnFactory');
  (warnings || []).forEach((warning) => {
    const property = (warning.property || '').replace(/^bpmn:/, '');
    const owner = warning.element;
    if (!owner || !/^loopData(Input|Output)Ref$/.test(property) || !warning.value) { return; }
    if (owner.get(property)) { return; }
    const ref = bpmnFactory.create('bpmn:ItemAwareElement', { id: warning.value });
    ref.$parent = owner;
    owner.set(property, ref);
  });
}

/**
 * The process owner's editor: the modeler in `container`, its properties panel in `panel`.
 * `config` is the page's #modeler-config (forms, roles, outcomes, summaries, processes, timer
 * helpers, and the panel's `panelStrings`).
 */
function createEditor({ container, panel, config }) {
  const translate = translateWith({ ...pageTranslations(), ...(config.panelStrings || {}) });
  const modeler = new BpmnModeler({
    container,
    keyboard: { bind: true },
    propertiesPanel: {
      parent: panel,
      layout: { groups: { general: { open: true } } },
    },
    linting: { bpmnlint: lintConfig(config, translate), active: true },
    moddleExtensions: { spiffworkflow },
    caseflow: config,
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CaseflowModule,
      TokenSimulationModule,
      TokenSimulationTranslations,
      LintModule,
      { translate: ['value', translate] },
    ],
  });
  const importXML = modeler.importXML.bind(modeler);
  modeler.importXML = (xml) => importXML(xml).then((result) => {
    keepLoopVariables(modeler, result.warnings);
    return result;
  });
  return modeler;
}

window.CaseflowBpmn = {
  BpmnModeler,
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  TokenSimulationModule,
  LintModule,
  createEditor,
};
