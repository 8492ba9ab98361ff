// The Hardhat node of the keeper's end-to-end tests (devkit/nodes.py starts
// it with `hardhat --config devkit/hardhat/hardhat.config.js node`): chain id
// 31337 and the accounts of anvil's (and ape-config.yaml's) test mnemonic, so
// TEST::i is the same address on both nodes. The launcher passes the genesis
// time, the account count and the balance through the environment.
const env = process.env;

module.exports = {
  // Nothing is compiled here: an empty sources folder keeps `hardhat node`
  // from compiling anything (and from fetching a compiler).
  paths: { sources: "./no-sources", cache: env.NAVLEND_HARDHAT_CACHE || "./cache" },
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      initialDate: env.NAVLEND_HARDHAT_START_TIME
        ? new Date(Number(env.NAVLEND_HARDHAT_START_TIME) * 1000).toISOString()
        : undefined,
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: Number(env.NAVLEND_HARDHAT_ACCOUNTS || "16"),
        accountsBalance: env.NAVLEND_HARDHAT_BALANCE_WEI || "1000000000000000000000000",
      },
      mining: { auto: true, interval: 0 },
    },
  },
};
