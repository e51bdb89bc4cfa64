// Composes subgraph SDLs into a supergraph with Apollo's composition library.
// stdin: [{"name", "url", "sdl"}, ...]; stdout: {"errors": [...], "hints": [...], "supergraphSdl"}.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const subgraphs = JSON.parse(readFileSync(0, "utf8")).map((s) => ({
  name: s.name,
  url: s.url,
  typeDefs: parse(s.sdl),
}));
const result = composeServices(subgraphs);
const out = {
  errors: (result.errors ?? []).map((e) => ({ code: e.extensions?.code ?? null, message: e.message })),
  hints: (result.hints ?? []).map((h) => ({ code: h.definition?.code ?? null, message: h.message })),
  supergraphSdl: result.supergraphSdl ?? null,
};
process.stdout.write(JSON.stringify(out));
