// Loads the bundled spec in swagger-parser and AJV (2020-12 class, and the draft-07 default class
// over a dereferenced copy, as JavaScript test kits do). Prints one JSON line of figures; exits 1
// on the first failure. Usage: node check_bundle.mjs <bundle.yaml> <spec/examples/valid>
import fs from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';

const [bundlePath, examplesDir] = process.argv.slice(2);
const fail = (what) => { console.error(`FAIL ${what}`); process.exit(1); };

await SwaggerParser.validate(bundlePath);
const doc = yaml.load(fs.readFileSync(bundlePath, 'utf8'));

const ajv2020 = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv2020);
ajv2020.addSchema({ $id: 'urn:ibr:bundle', components: doc.components });
const componentNames = Object.keys(doc.components.schemas);
for (const name of componentNames) {
  if (!ajv2020.getSchema(`urn:ibr:bundle#/components/schemas/${name}`)) fail(`ajv2020 ${name}`);
}

const jsonBody = (op) => op?.requestBody?.content?.['application/json']?.schema;
const operationIds = new Map();
for (const [p, item] of Object.entries(doc.paths)) {
  for (const op of Object.values(item)) if (op?.operationId) operationIds.set(op.operationId, p);
}

// Every valid example request, validated by AJV 2020 against its operation's bundled schema.
let examples = 0;
for (const opId of fs.readdirSync(examplesDir)) {
  const p = operationIds.get(opId);
  const schema = p && jsonBody(doc.paths[p].post);
  if (!schema?.$ref?.includes('/api_envelope_')) continue;
  const validate = ajv2020.getSchema(`urn:ibr:bundle${schema.$ref}`);
  const requestName = schema.$ref.split('/').pop().replace(/^api_/, '');
  for (const file of fs.readdirSync(path.join(examplesDir, opId))) {
    if (file.split('.')[0] !== requestName) continue;
    const instance = JSON.parse(fs.readFileSync(path.join(examplesDir, opId, file), 'utf8'));
    if (!validate(instance)) fail(`ajv2020 rejects ${opId}/${file}: ${JSON.stringify(validate.errors[0])}`);
    instance.header.version = '9.9.9';
    if (validate(instance)) fail(`ajv2020 accepts ${opId}/${file} with a wrong header.version`);
    examples += 1;
  }
}
if (examples === 0) fail('no example request was checked');

// As a DCI test kit does: dereference, then compile each request body with AJV's default class.
const deref = await SwaggerParser.dereference(bundlePath);
const ajvDefault = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
addFormats(ajvDefault);
let compiled = 0;
for (const item of Object.values(deref.paths)) {
  for (const op of Object.values(item)) {
    if (jsonBody(op)) { ajvDefault.compile(jsonBody(op)); compiled += 1; }
  }
}
console.log(JSON.stringify({ components: componentNames.length, examples, dereferenced_bodies: compiled }));
