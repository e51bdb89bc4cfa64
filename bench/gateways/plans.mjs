// Which subgraphs a generic query planner (@apollo/query-planner, as @apollo/gateway runs it)
// sends one robot lookup to, for three designs of the registry subgraphs (issue 21):
//   A. today: every registry node serves Query.robot, @shareable;
//   B. entity-only registry subgraphs (Robot @key, no root field) beside a directory
//      subgraph that serves Query.robot and returns the robot's key;
//   C. as B, with each registry contributing its own field (Robot.cn, Robot.eu).
// The SDLs are the nodes' shape cut to two fields (Robot @key(fields: "code"), shared types
// @shareable, federation v2.9). Prints each plan and the subgraphs it fetches from.
// Usage (after `npm ci --prefix bench/gateways`): node bench/gateways/plans.mjs
import { composeServices } from "@apollo/composition";
import { QueryPlanner, prettyFormatQueryPlan } from "@apollo/query-planner";
import { Supergraph, operationFromDocument } from "@apollo/federation-internals";
import { parse } from "graphql";
const link = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@shareable"])`;
const passport = `type Passport @shareable { code: String! model: String }`;
const designs = {
  "A shared root field (today)": [
    ["cn", `${link} type Query { robot(code: String!): Robot @shareable } type Robot @key(fields: "code") @shareable { code: String! model: String }`],
    ["eu", `${link} type Query { robot(code: String!): Robot @shareable } type Robot @key(fields: "code") @shareable { code: String! model: String }`],
  ],
  "B entity-only registries + directory": [
    ["cn", `${link} type Robot @key(fields: "code") @shareable { code: String! model: String }`],
    ["eu", `${link} type Robot @key(fields: "code") @shareable { code: String! model: String }`],
    ["directory", `${link} type Query { robot(code: String!): Robot } type Robot @key(fields: "code") { code: String! @shareable }`],
  ],
  "C per-registry fields + directory": [
    ["cn", `${link} ${passport} type Robot @key(fields: "code") { code: String! @shareable cn: Passport }`],
    ["eu", `${link} ${passport} type Robot @key(fields: "code") { code: String! @shareable eu: Passport }`],
    ["directory", `${link} type Query { robot(code: String!): Robot } type Robot @key(fields: "code") { code: String! @shareable }`],
  ],
};
const queries = {
  "A shared root field (today)": `{ robot(code: "X") { code model } }`,
  "B entity-only registries + directory": `{ robot(code: "X") { code model } }`,
  "C per-registry fields + directory": `{ robot(code: "X") { code cn { model } eu { model } } }`,
};
for (const [name, subs] of Object.entries(designs)) {
  const result = composeServices(subs.map(([n, sdl]) => ({ name: n, url: `http://${n}`, typeDefs: parse(sdl) })));
  if (result.errors?.length) { console.log(name, "COMPOSE ERRORS", result.errors.map(e => e.message)); continue; }
  const supergraph = Supergraph.build(result.supergraphSdl);
  const planner = new QueryPlanner(supergraph);
  const plan = planner.buildQueryPlan(operationFromDocument(supergraph.schema, parse(queries[name])));
  const text = prettyFormatQueryPlan(plan);
  const services = [...new Set([...text.matchAll(/Fetch\(service: "(\w+)"\)/g)].map((m) => m[1]))];
  console.log(`== ${name}: fetches ${services.join(", ")}\n${text}`);
}
