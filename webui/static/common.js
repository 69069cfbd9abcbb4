// Small helpers the process owners' page scripts share (modeler.js, dmn-editor.js,
// dry-run.js): plain scripts, not bundled, so this one is loaded before them and leaves its
// helpers on window.CaseflowCommon.
(function () {
  'use strict';

  // t(key, values): the page's text for `key` (from the JSON block the template rendered with
  // gettext), its %(name)s placeholders filled from `values`; the key itself when unknown.
  function translator(strings) {
    strings = strings || {};
    return function t(key, values) {
      var text = strings[key] || key;
      Object.keys(values || {}).forEach(function (name) {
        text = text.replace('%(' + name + ')s', values[name]);
      });
      return text;
    };
  }

  // el(tag, attrs, children): an element; attrs.text is its text, the other attrs its
  // attributes; a child is a node or a string (a text node); null, undefined, false and ''
  // are left out.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === 'text') { node.textContent = attrs[name]; } else { node.setAttribute(name, attrs[name]); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false || child === '') { return; }
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  window.CaseflowCommon = { translator: translator, el: el };
}());
