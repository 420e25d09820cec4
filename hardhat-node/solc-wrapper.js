#!/usr/bin/env node
// A stand-in for the native `solc` binary, driving the npm `solc` package (solcjs), so that
// py-solc-x's compile_standard(..., solc_binary=<this file>) works where no native compiler can
// be downloaded. It implements exactly what py-solc-x calls:
//   --version        answered in native solc's format ("Version: 0.8.x+commit.<hash>...")
//   --standard-json  compiler JSON input on stdin, compiler JSON output on stdout
// The solcjs command line prints a line about SMT solvers on stdout before the JSON; calling
// the library directly keeps stdout pure JSON. Imports are not read from disk: the caller puts
// every source in the input, so that the input alone determines the output.
"use strict";

const solc = require("solc");

const args = process.argv.slice(2);

if (args.length === 1 && args[0] === "--version") {
  process.stdout.write(
    `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`,
  );
} else if (args.length === 1 && args[0] === "--standard-json") {
  const chunks = [];
  process.stdin.on("data", (chunk) => chunks.push(chunk));
  process.stdin.on("end", () => {
    const input = Buffer.concat(chunks).toString("utf8");
    const findImports = (importPath) => ({
      error: `${importPath}: not in the compiler input (the wrapper reads no files)`,
    });
    // No process.exit here: it could cut a large output still being written to the pipe.
    process.stdout.write(solc.compile(input, { import: findImports }));
  });
} else {
  // Native solc's wording, which py-solc-x turns into UnknownOption.
  const unknown = args.find((arg) => arg !== "--standard-json" && arg !== "--version") ?? "";
  process.stderr.write(`unrecognised option '${unknown}'\n`);
  process.exit(1);
}
