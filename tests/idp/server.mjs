// An independent OpenID provider (panva/oidc-provider) for robopass's tests.
//
// Client credentials with resource indicators (RFC 8707): a token asked for a
// known resource is an RFC 9068 JWT (typ at+jwt) whose audience is that
// resource. Each client's party attributes travel as claims under this
// provider's own names (org_name, country, party_role, purpose), so the
// gateway must map them through its trusted-issuer configuration.
// Usage: node server.mjs PORT. Prints "ready ISSUER" once it listens.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const ROBOPASS = 'https://robopass.test/graphql';
const OTHER = 'https://other.test/api';

const RESOURCES = {
  [ROBOPASS]: { scope: 'robopass:read', audience: ROBOPASS },
  [OTHER]: { scope: 'other:read', audience: OTHER },
};

const CLIENTS = [
  {
    client_id: 'baua',
    party: {
      org_name: 'Bundesanstalt fuer Arbeitsschutz und Arbeitsmedizin',
      country: 'DE',
      party_role: 'market_surveillance',
      purpose: ['market_surveillance'],
    },
  },
  {
    client_id: 'second-life',
    party: {
      org_name: 'Second Life Robots GmbH',
      country: 'DE',
      party_role: 'buyer',
      purpose: ['due_diligence'],
    },
  },
  {
    client_id: 'cn-claimant',
    party: { org_name: 'Claims Another Country', country: 'CN', party_role: 'regulator' },
  },
];

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: randomUUID() };
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs PORT');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: CLIENTS.map(({ client_id }) => ({
    client_id,
    client_secret: `secret-${client_id}`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'robopass:read other:read',
  })),
  jwks: {
    keys: [
      signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
      signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  scopes: ['robopass:read', 'other:read'],
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      getResourceServerInfo(ctx, indicator) {
        const known = RESOURCES[indicator];
        if (!known) throw new errors.InvalidTarget();
        return { ...known, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
  extraTokenClaims(ctx, token) {
    const client = CLIENTS.find((c) => c.client_id === token.clientId);
    return client?.party;
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
