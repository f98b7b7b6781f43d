#!/usr/bin/env node
// Validate ASL files with AWS's amazon-states-language-service (the engine behind the
// VS Code / Toolkit Step Functions editor). It has no CLI, so this script builds the
// TextDocument and JSON document itself and calls doValidation.
//
// Usage: node validate-lsp.js FILE...
// Prints one `file:line:col: severity: message` line per diagnostic (1-based line/col).
// Exit status: 0 if no file has an Error or Warning diagnostic, 1 otherwise, 2 on usage or
// I/O errors. Warnings fail too, on purpose: vscode-json-languageservice reports JSON Schema
// violations (unknown or missing properties, wrong types) as Warnings, and the ASL service
// only raises its own semantic checks to Error, so treating Warnings as passing would let
// most schema mistakes through. Information and Hint diagnostics are printed but never fail.
'use strict';

const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const {
  getLanguageService,
  TextDocument,
  DiagnosticSeverity,
} = require('amazon-states-language-service');

const SEVERITY_NAMES = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};
const FAILING = new Set([DiagnosticSeverity.Error, DiagnosticSeverity.Warning]);

async function validateFile(service, file) {
  const text = fs.readFileSync(file, 'utf8');
  const document = TextDocument.create(pathToFileURL(path.resolve(file)).href, 'json', 1, text);
  const jsonDocument = service.parseJSONDocument(document);
  const diagnostics = await service.doValidation(document, jsonDocument);
  diagnostics.sort(
    (a, b) =>
      a.range.start.line - b.range.start.line ||
      a.range.start.character - b.range.start.character ||
      a.message.localeCompare(b.message),
  );
  let failed = false;
  for (const d of diagnostics) {
    // The service leaves severity unset on some diagnostics; LSP says to treat that as Error.
    const severity = d.severity ?? DiagnosticSeverity.Error;
    failed = failed || FAILING.has(severity);
    const { line, character } = d.range.start;
    const message = d.message.replace(/\s+/g, ' ');
    console.log(`${file}:${line + 1}:${character + 1}: ${SEVERITY_NAMES[severity]}: ${message}`);
  }
  return failed;
}

async function main(files) {
  if (files.length === 0) {
    console.error('usage: validate-lsp.js FILE...');
    return 2;
  }
  const service = getLanguageService({});
  let failed = false;
  for (const file of files) {
    failed = (await validateFile(service, file)) || failed;
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exitCode = 2;
  },
);
