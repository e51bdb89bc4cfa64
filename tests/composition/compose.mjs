// Composes subgraph SDLs into a supergraph with Apollo's composition library or The Guild's.
// argv[2]: "apollo" (default) or "guild".
// stdin: [{"name", "url", "sdl"}, ...]; stdout: {"errors": [...], "hints": [...], "supergraphSdl"}.
import { readFileSync } from "node:fs";
import { composeServices as apollo } from "@apollo/composition";
import { composeServices as guild } from "@theguild/federation-composition";
import { parse } from "graphql";

const composers = { apollo, guild };
const composer = composers[process.argv[2] ?? "apollo"];
if (!composer) {
  process.stderr.write(`unknown composer ${process.argv[2]}: apollo or guild\n`);
  process.exit(2);
}
const subgraphs = JSON.parse(readFileSync(0, "utf8")).map((s) => ({
  name: s.name,
  url: s.url,
  typeDefs: parse(s.sdl),
}));
const result = composer(subgraphs);
const code = (e) => e.extensions?.code ?? e.definition?.code ?? null;
const out = {
  errors: (result.errors ?? []).map((e) => ({ code: code(e), message: e.message })),
  hints: (result.hints ?? []).map((h) => ({ code: code(h), message: h.message })),
  supergraphSdl: result.supergraphSdl ?? null,
};
process.stdout.write(JSON.stringify(out));
