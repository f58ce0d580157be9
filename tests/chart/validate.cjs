// Validates rendered Kubernetes objects with kubernetes-models (and the
// cert-manager, prometheus-operator and gateway-api models).
//
//   node tests/chart/validate.cjs NODE_DIR RENDER.json...
//
// NODE_DIR holds node_modules (scripts/install-tools.sh: .tools/node). Each
// RENDER.json is a JSON array of objects (one `helm template`). Every object
// must have a model and pass its validate(). The schemas accept unknown
// fields, so every key name is checked too: each leaf value in turn is
// replaced by a value of the wrong type, and validation must then fail; a key
// the schema does not know (a typo, a field of another version) passes with
// any value and is reported. Prints one line per problem; exit 1 if any.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [nodeDir, ...renders] = process.argv.slice(2);
if (!nodeDir || renders.length === 0) {
  console.error("usage: validate.cjs NODE_DIR RENDER.json...");
  process.exit(2);
}
const req = createRequire(path.join(path.resolve(nodeDir), "package.json"));

const packages = {
  "cert-manager.io": "@kubernetes-models/cert-manager/cert-manager.io",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator/monitoring.coreos.com",
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api/gateway.networking.k8s.io",
};

function modelOf(obj) {
  const parts = String(obj.apiVersion).split("/");
  const [group, version] = parts.length === 2 ? parts : ["", parts[0]];
  const base = packages[group] || (group ? `kubernetes-models/${group}` : "kubernetes-models");
  const mod = req(`${base}/${version}/${obj.kind}`);
  return mod[obj.kind];
}

function errorsOf(Model, obj) {
  try {
    new Model(obj).validate();
    return null;
  } catch (e) {
    return e.message || String(e);
  }
}

// Paths of every leaf: scalars, empty objects and empty arrays.
function leaves(value, at = [], out = []) {
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 0) out.push(at);
    for (const k of keys) leaves(value[k], at.concat(Array.isArray(value) ? Number(k) : k), out);
  } else {
    out.push(at);
  }
  return out;
}

function withValue(obj, at, v) {
  const copy = JSON.parse(JSON.stringify(obj));
  let o = copy;
  for (const k of at.slice(0, -1)) o = o[k];
  o[at[at.length - 1]] = v;
  return copy;
}

function wrongTypeFor(value) {
  if (value !== null && typeof value === "object") return "not-a-" + (Array.isArray(value) ? "list" : "map");
  return { wrongType: [1] };
}

let problems = 0;
let checked = 0;
for (const file of renders) {
  const objects = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const obj of objects) {
    const name = `${path.basename(file)}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
    let Model;
    try {
      Model = modelOf(obj);
    } catch (e) {
      console.log(`${name}: no model for ${obj.apiVersion} ${obj.kind}`);
      problems++;
      continue;
    }
    const err = errorsOf(Model, obj);
    if (err) {
      console.log(`${name}: invalid: ${err}`);
      problems++;
      continue;
    }
    for (const at of leaves(obj)) {
      if (at.length === 0 || at[0] === "apiVersion" || at[0] === "kind") continue;
      const original = at.reduce((o, k) => o[k], obj);
      if (errorsOf(Model, withValue(obj, at, wrongTypeFor(original))) === null) {
        console.log(`${name}: the schema does not know ${at.join(".")}`);
        problems++;
      }
    }
    checked++;
  }
}
console.log(`validate.cjs: ${checked} objects valid, ${problems} problems`);
process.exit(problems === 0 ? 0 : 1);
