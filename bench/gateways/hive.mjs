// Hive Gateway's runtime on Node's HTTP server over a supergraph file, one process
// (what `hive-gateway supergraph` runs per worker). Usage: node hive.mjs SUPERGRAPH_FILE PORT;
// $SUBGRAPH_TOKEN is sent to every subgraph.
import { createServer } from "node:http";
import { createGatewayRuntime } from "@graphql-hive/gateway";

const [supergraph, port] = process.argv.slice(2);
const token = process.env.SUBGRAPH_TOKEN ?? "";

const gateway = createGatewayRuntime({
  supergraph,
  logging: "error",
  propagateHeaders: {
    fromClientToSubgraphs: () => (token ? { authorization: `Bearer ${token}` } : {}),
  },
});
createServer(gateway).listen(Number(port), "127.0.0.1", () => {
  console.log(`hive gateway ready at http://127.0.0.1:${port}/graphql`);
});
