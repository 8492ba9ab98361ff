// Runs solc-js in Standard JSON mode from file to file:
//   node solc_standard_json.js SOLC_PACKAGE_DIR INPUT.json OUTPUT.json
// (solc.js's own CLI reads a pipe with readFileSync and may cut a large
// output written to a pipe at exit, so the benchmark uses files.)
"use strict";
const fs = require("fs");
const [solcDir, inputPath, outputPath] = process.argv.slice(2);
if (!solcDir || !inputPath || !outputPath) {
  console.error("usage: node solc_standard_json.js SOLC_PACKAGE_DIR INPUT.json OUTPUT.json");
  process.exit(2);
}
const solc = require(solcDir);
fs.writeFileSync(outputPath, solc.compile(fs.readFileSync(inputPath, "utf8")));
