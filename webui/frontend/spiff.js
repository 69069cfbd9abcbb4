// Reading and writing the spiffworkflow extension elements the engine reads
// (engine/definitions, SpiffWorkflow's spiff parser): one spiffworkflow:properties block of
// name/value properties, and single-text elements (preScript, postScript,
// instructionsForEndUser, messagePayload, messageVariable, calledDecisionId).
// Every write goes through the command stack as one command, so undo/redo and the page's
// change tracking see it.
import { is } from 'bpmn-js/lib/util/ModelUtil';

const MULTI = 'properties-panel.multi-command-executor';

export function extensionValues(bo) {
  const ext = bo && bo.get('extensionElements');
  return (ext && ext.get('values')) || [];
}

export function findExtension(bo, type) {
  return extensionValues(bo).find((value) => is(value, type)) || null;
}

export function propertiesBlock(bo) {
  return findExtension(bo, 'spiffworkflow:Properties');
}

/** Every spiffworkflow:property of `bo` as [name, value] pairs, in the order written. */
export function propertyList(bo) {
  const block = propertiesBlock(bo);
  return ((block && block.get('properties')) || []).map((p) => [p.get('name'), p.get('value') || '']);
}

export function getProperty(bo, name) {
  const found = propertyList(bo).find(([key]) => key === name);
  return found ? found[1] : '';
}

function ensureExtensions(element, bo, bpmnFactory, commands) {
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: bo, properties: { extensionElements: ext } } });
  }
  return ext;
}

/**
 * Set several spiffworkflow:property values of `bo` at once: `changes` maps a name to its
 * new value ('' or null removes it; an array [newName, value] renames). Removing the last
 * property removes the block.
 */
export function setProperties(injector, element, bo, changes) {
  const bpmnFactory = injector.get('bpmnFactory');
  const commandStack = injector.get('commandStack');
  const commands = [];
  const ext = ensureExtensions(element, bo, bpmnFactory, commands);
  let block = propertiesBlock(bo);
  const existing = block ? [...block.get('properties')] : [];
  const next = [];
  const seen = new Set();
  for (const prop of existing) {
    const name = prop.get('name');
    if (!(name in changes)) {
      next.push(prop);
      continue;
    }
    seen.add(name);
    const change = changes[name];
    const [newName, value] = Array.isArray(change) ? change : [name, change];
    if (value === '' || value === null || value === undefined) { continue; }
    next.push(prop);
    if (newName !== name || value !== prop.get('value')) {
      commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: prop, properties: { name: newName, value } } });
    }
  }
  Object.keys(changes).forEach((name) => {
    if (seen.has(name)) { return; }
    const change = changes[name];
    const [newName, value] = Array.isArray(change) ? change : [name, change];
    if (value === '' || value === null || value === undefined) { return; }
    const prop = bpmnFactory.create('spiffworkflow:Property', { name: newName, value });
    next.push(prop);
  });
  const values = ext.get('values') || [];
  if (!block && next.length) {
    block = bpmnFactory.create('spiffworkflow:Properties', { properties: [] });
    block.$parent = ext;
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: ext, properties: { values: [...values, block] } } });
  }
  if (block) {
    next.forEach((prop) => { prop.$parent = block; });
    const changed = next.length !== existing.length || next.some((p, i) => p !== existing[i]);
    if (changed) {
      commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: block, properties: { properties: next } } });
    }
    if (!next.length) {
      commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: ext, properties: { values: values.filter((v) => v !== block) } } });
    }
  }
  if (commands.length) { commandStack.execute(MULTI, commands); }
}

export function setProperty(injector, element, bo, name, value) {
  setProperties(injector, element, bo, { [name]: value });
}

/** The text of a single-text extension such as spiffworkflow:PostScript ('' when absent). */
export function getText(bo, type) {
  const found = findExtension(bo, type);
  return (found && found.get('value')) || '';
}

export function setText(injector, element, bo, type, value) {
  const bpmnFactory = injector.get('bpmnFactory');
  const commandStack = injector.get('commandStack');
  const commands = [];
  const found = findExtension(bo, type);
  const empty = value === '' || value === null || value === undefined;
  if (found && empty) {
    const ext = bo.get('extensionElements');
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: ext, properties: { values: ext.get('values').filter((v) => v !== found) } } });
  } else if (found) {
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: found, properties: { value } } });
  } else if (!empty) {
    const ext = ensureExtensions(element, bo, bpmnFactory, commands);
    const created = bpmnFactory.create(type, { value });
    created.$parent = ext;
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: ext, properties: { values: [...(ext.get('values') || []), created] } } });
  }
  if (commands.length) { commandStack.execute(MULTI, commands); }
}

/** The process whose properties a selected element edits: the process itself (the canvas
 * root without a pool) or a pool's process. */
export function processOf(element) {
  const bo = element && element.businessObject;
  if (!bo) { return null; }
  if (is(bo, 'bpmn:Process')) { return bo; }
  if (is(bo, 'bpmn:Participant')) { return bo.get('processRef') || null; }
  return null;
}

/** The bpmn:definitions an element belongs to. */
export function definitionsOf(bo) {
  let node = bo;
  while (node && !is(node, 'bpmn:Definitions')) { node = node.$parent; }
  return node;
}

export function rootElements(bo, type) {
  const defs = definitionsOf(bo);
  return ((defs && defs.get('rootElements')) || []).filter((e) => is(e, type));
}
