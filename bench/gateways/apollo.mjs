// @apollo/gateway on Apollo Server over a supergraph file, one process.
// Usage: node apollo.mjs SUPERGRAPH_FILE PORT; $SUBGRAPH_TOKEN is sent to every subgraph.
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";

const [supergraphFile, port] = process.argv.slice(2);
const token = process.env.SUBGRAPH_TOKEN ?? "";

class Authorized extends RemoteGraphQLDataSource {
  willSendRequest({ request }) {
    if (token) request.http.headers.set("authorization", `Bearer ${token}`);
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(supergraphFile, "utf8"),
  buildService: ({ url }) => new Authorized({ url }),
});
const server = new ApolloServer({ gateway, introspection: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(port) },
});
console.log(`apollo gateway ready at ${url}`);
