// certreg's local development chain: Hardhat Network only. Hardhat compiles nothing here — its
// compiler download cannot work on our machines — so there is no `solidity` section; the Python
// build (anchoring.compile) drives the npm `solc` package through solc-wrapper.js instead.
//
// Settings come from the environment so that start-node.js (and anyone running
// `npx hardhat node` by hand) can choose them without editing this file:
//   HARDHAT_NODE_CHAIN_ID     chain id (default 31337, Hardhat's own)
//   HARDHAT_NODE_INTERVAL_MS  mine a block every N ms instead of one per transaction (default 0:
//                             automine)
//   HARDHAT_NODE_BASE_FEE     initial base fee per gas in wei (default Hardhat's, 1 gwei);
//                             0 imitates a permissioned chain that runs without fees

function intFromEnv(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === "") {
    return fallback;
  }
  if (!/^[0-9]+$/.test(text)) {
    throw new Error(`${name}: got ${JSON.stringify(text)}, want a non-negative integer`);
  }
  return Number.parseInt(text, 10);
}

const chainId = intFromEnv("HARDHAT_NODE_CHAIN_ID", 31337);
const intervalMs = intFromEnv("HARDHAT_NODE_INTERVAL_MS", 0);
const baseFee = intFromEnv("HARDHAT_NODE_BASE_FEE", 1_000_000_000);

module.exports = {
  defaultNetwork: "hardhat",
  networks: {
    hardhat: {
      chainId,
      // The contract is compiled for cancun (anchoring.compile pins evmVersion); run the same.
      hardfork: "cancun",
      initialBaseFeePerGas: baseFee,
      // A reverted transaction is mined and comes back as a receipt with status 0, as on a real
      // chain, instead of as a JSON-RPC error; the client must handle that case anyway.
      throwOnTransactionFailures: false,
      // eth_call and eth_estimateGas still answer a revert with an error carrying its data,
      // which is how the client decodes custom errors before sending.
      throwOnCallFailures: true,
      mining: intervalMs > 0 ? { auto: false, interval: intervalMs } : { auto: true },
      // Hardhat's well-known development mnemonic: test keys, never for a real network.
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: 10,
      },
      // The node logs every JSON-RPC call otherwise; the tests send thousands.
      loggingEnabled: false,
    },
  },
  paths: {
    // Nothing to compile: point Hardhat at an empty folder so that it never looks for solc.
    sources: "./no-sources",
    cache: "./.cache",
    artifacts: "./.artifacts",
  },
};
