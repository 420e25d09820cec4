#!/usr/bin/env node
// Start the local Hardhat node on 127.0.0.1 and wait until it answers JSON-RPC.
//
//   node start-node.js [--port 8545] [--chain-id 31337] [--interval-ms 0] [--base-fee WEI]
//                      [--timeout-s 60] [--stop-on-stdin-close]
//
// When the node answers `eth_chainId` with the chain id asked for, one line goes to stdout:
//   certreg-hardhat-node ready url=http://127.0.0.1:<port> chain_id=<id> pid=<node pid>
// and nothing else is ever written to stdout (Hardhat's own output goes to stderr), so a caller
// can read that one line from a pipe and never has to drain it. The script stays in the
// foreground while the node runs, stops it on SIGINT/SIGTERM, and exits with its status.
// With --stop-on-stdin-close it also stops the node when its standard input closes: a caller
// that holds a pipe to it (the test fixture) cannot leave a node behind, even if it crashes.
"use strict";

const { spawn } = require("node:child_process");
const net = require("node:net");
const path = require("node:path");

function parseArgs(argv) {
  const options = {
    port: 8545,
    chainId: 31337,
    intervalMs: 0,
    baseFee: null,
    timeoutS: 60,
    stopOnStdinClose: false,
  };
  const flags = argv.filter((arg) => arg === "--stop-on-stdin-close");
  options.stopOnStdinClose = flags.length > 0;
  argv = argv.filter((arg) => arg !== "--stop-on-stdin-close");
  const names = {
    "--port": "port",
    "--chain-id": "chainId",
    "--interval-ms": "intervalMs",
    "--base-fee": "baseFee",
    "--timeout-s": "timeoutS",
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    const text = argv[i + 1];
    if (key === undefined || text === undefined || !/^[0-9]+$/.test(text)) {
      fail(`argument ${argv[i]} ${text}: want one of ${Object.keys(names).join(", ")} N`);
    }
    options[key] = Number.parseInt(text, 10);
  }
  if (options.port < 1 || options.port > 65535) {
    fail(`--port: got ${options.port}, want 1..65535`);
  }
  return options;
}

function fail(message) {
  process.stderr.write(`start-node: ${message}\n`);
  process.exit(2);
}

async function chainIdOf(url) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    signal: AbortSignal.timeout(2000),
  });
  const body = await response.json();
  return Number.parseInt(body.result, 16);
}

// Resolves if nothing listens on 127.0.0.1:port. Checked first so that a node already running
// there (same chain id or not) is never mistaken for the one we start.
function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const url = `http://127.0.0.1:${options.port}`;
  if (!(await portIsFree(options.port))) {
    fail(`127.0.0.1:${options.port} is already in use, want a free port`);
  }
  const env = {
    ...process.env,
    HARDHAT_NODE_CHAIN_ID: String(options.chainId),
    HARDHAT_NODE_INTERVAL_MS: String(options.intervalMs),
    HARDHAT_DISABLE_TELEMETRY_PROMPT: "true",
  };
  if (options.baseFee !== null) {
    env.HARDHAT_NODE_BASE_FEE = String(options.baseFee);
  }
  const cli = path.join(__dirname, "node_modules", "hardhat", "internal", "cli", "cli.js");
  const child = spawn(
    process.execPath,
    [cli, "node", "--hostname", "127.0.0.1", "--port", String(options.port)],
    { cwd: __dirname, env, stdio: ["ignore", process.stderr, process.stderr] },
  );

  let exited = false;
  child.on("exit", (code, signal) => {
    exited = true;
    process.exit(code ?? (signal ? 1 : 0));
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => child.kill(signal));
  }
  if (options.stopOnStdinClose) {
    process.stdin.on("close", () => child.kill("SIGTERM"));
    process.stdin.on("end", () => child.kill("SIGTERM"));
    process.stdin.resume();
  }

  const deadline = Date.now() + options.timeoutS * 1000;
  while (!exited) {
    try {
      const chainId = await chainIdOf(url);
      if (chainId !== options.chainId) {
        // Someone took the port between the check and Hardhat's bind: not our node.
        child.kill("SIGTERM");
        fail(`${url} answers chain id ${chainId}, want ${options.chainId}: port taken?`);
      }
      process.stdout.write(
        `certreg-hardhat-node ready url=${url} chain_id=${chainId} pid=${child.pid}\n`,
      );
      return;
    } catch {
      // Not listening yet: Hardhat takes a second or two to start.
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      fail(`${url} did not answer within ${options.timeoutS} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

main();
