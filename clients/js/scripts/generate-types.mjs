// Regenerates src/api-types.d.ts from the service's OpenAPI document.
//   npm run types                                         # the document of the app in ../../src
//   npm run types -- http://127.0.0.1:5000/schema/openapi.json   # the one a server serves
// Without a URL the document is produced by the Python app factory (the same one /schema
// serves), so CI can check the committed types are current without starting a server.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const python = process.env.PYTHON ?? path.resolve(root, "../../.venv/bin/python");
const source = process.argv[2];
const document = path.join(root, "openapi.json");

if (source) {
  const response = await fetch(source);
  if (!response.ok) throw new Error(`${source} answered ${response.status}`);
  writeFileSync(document, await response.text());
} else {
  const dump = [
    "import json, sys",
    "from litestar.serialization import encode_json",
    "from dashboard_api.http.app import create_app",
    "schema = json.loads(encode_json(create_app().openapi_schema.to_schema()))",
    "json.dump(schema, sys.stdout, indent=1, sort_keys=True)",
  ].join("\n");
  writeFileSync(document, execFileSync(python, ["-c", dump], { maxBuffer: 64 << 20 }));
}
execFileSync(
  path.join(root, "node_modules/.bin/openapi-typescript"),
  [document, "--output", path.join(root, "src/api-types.d.ts")],
  { stdio: "inherit" },
);
