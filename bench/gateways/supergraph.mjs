// Composes subgraph SDLs (stdin: [{"name", "url", "sdl"}]) into a supergraph SDL on stdout.
// Composition errors go to stderr, with exit status 1.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const subgraphs = JSON.parse(readFileSync(0, "utf8")).map((s) => ({
  name: s.name,
  url: s.url,
  typeDefs: parse(s.sdl),
}));
const result = composeServices(subgraphs);
if (result.errors?.length) {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
process.stdout.write(result.supergraphSdl);
