// The modeler bundle (built by `npm run build` into static/vendor/caseflow/, git-ignored):
// bpmn-js's modeler with bpmn.io's properties panel, token simulation and bpmnlint, exposed as
// one global for the pages' plain scripts (webui/static/*.js).
import BpmnModeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
} from 'bpmn-js-properties-panel';
import TokenSimulationModule from 'bpmn-js-token-simulation';
import LintModule from 'bpmn-js-bpmnlint';

window.CaseflowBpmn = {
  BpmnModeler,
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  TokenSimulationModule,
  LintModule,
};
