// A real OpenID Provider for the tests: the certified `oidc-provider` package on a loopback
// port, with its own signing key, a public portal client (Authorization Code + PKCE), client-
// credentials clients for integrators and for the vendor's subscription system, and test
// accounts. Prints `ready <issuer>` on stdout once it listens.
//
//   node e2e/oidc/provider.mjs --port 0 --key /tmp/key.json --redirect http://127.0.0.1:8080/
//
// Options: --port (0: any free port), --key (the signing key, kept across restarts; made when
// absent), --redirect (portal origin, repeatable; the callback and the sign-out return are
// under it), --access-ttl seconds (default 300), --refresh (issue refresh tokens to the portal
// client `tollgate-portal`; `tollgate-portal-norefresh` never gets one).
import Provider from 'oidc-provider';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createServer } from 'node:http';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    key: { type: 'string' },
    redirect: { type: 'string', multiple: true, default: [] },
    'access-ttl': { type: 'string', default: '300' },
    refresh: { type: 'boolean', default: false },
  },
});

export const RESOURCE = 'urn:tollgate';
export const OTHER_RESOURCE = 'urn:someone-else';
export const OPERATOR_RESOURCE = 'urn:tollgate-operators';

// The people of the story: project and groups as a Keycloak or Okta group mapper sends them.
export const ACCOUNTS = {
  alice: { name: 'Alice Admin', email: 'alice@acme.test', project: 'acme', groups: ['staff', 'tollgate-admins'] },
  dave: { name: 'Dave Customer', email: 'dave@acme.test', project: 'acme', groups: ['tollgate-users'] },
  gina: { name: 'Gina Globex', email: 'gina@globex.test', project: 'globex', groups: ['tollgate-admins'] },
  olivia: { name: 'Olivia Operator', email: 'olivia@vendor.test', groups: ['vendor-operators'] },
  nobody: { name: 'No Role', email: 'nobody@acme.test', project: 'acme', groups: ['staff'] },
};

// Clients of the client-credentials grant: what their tokens claim.
const MACHINES = {
  'ci-acme': { secret: 'ci-acme-secret', project: 'acme', groups: ['tollgate-admins'], name: 'Acme CI' },
  'ci-reader': { secret: 'ci-reader-secret', project: 'acme', groups: ['tollgate-users'], name: 'Acme reader' },
  'no-role': { secret: 'no-role-secret', project: 'acme', groups: ['staff'], name: 'No role' },
  'no-project': { secret: 'no-project-secret', groups: ['tollgate-admins'], name: 'No project' },
  'subscriptions': { secret: 'subscriptions-secret', groups: ['vendor-operators'], name: 'Subscription system' },
  'elsewhere': { secret: 'elsewhere-secret', project: 'acme', groups: ['tollgate-admins'], name: 'Other API',
    resource: OTHER_RESOURCE },
  // The vendor's own client for the operators' audience, and one that also names a project.
  'vendor-ops': { secret: 'vendor-ops-secret', name: 'Vendor operations', resource: OPERATOR_RESOURCE },
  'sneaky': { secret: 'sneaky-secret', project: 'acme', groups: ['tollgate-users'], name: 'Sneaky',
    resource: OPERATOR_RESOURCE },
  // A customer whose provider let it name a group after the vendor's operators.
  'self-named-operator': { secret: 'self-named-operator-secret', project: 'acme', groups: ['tollgate-users', 'vendor-operators'],
    name: 'Self-named operator' },
};

function signingKey(path) {
  if (path && existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `test-${Date.now().toString(36)}`, alg: 'ES256', use: 'sig' };
  if (path) writeFileSync(path, JSON.stringify(jwk), { mode: 0o600 });
  return jwk;
}

const portalRedirects = opt.redirect.map((r) => new URL(r).href);
const accessTtl = Number(opt['access-ttl']);

// Listen first: the issuer is the address we got.
const server = createServer();
await new Promise((ok) => server.listen(Number(opt.port), '127.0.0.1', ok));
const issuer = `http://127.0.0.1:${server.address().port}`;

const resourceOf = (client) => MACHINES[client?.clientId]?.resource ?? RESOURCE;

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey(opt.key)] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  clients: [
    ...[['tollgate-portal', opt.refresh], ['tollgate-portal-norefresh', false]].map(([id, refresh]) => ({
      client_id: id,
      token_endpoint_auth_method: 'none',
      application_type: 'web',
      grant_types: refresh ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
      response_types: ['code'],
      redirect_uris: portalRedirects,
      post_logout_redirect_uris: portalRedirects,
      id_token_signed_response_alg: 'ES256',
    })),
    ...Object.entries(MACHINES).map(([id, m]) => ({
      client_id: id,
      client_secret: m.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: 'ES256',
    })),
  ],
  async findAccount(ctx, sub) {
    const account = ACCOUNTS[sub];
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, name: account.name, email: account.email }) };
  },
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  pkce: { required: () => true },
  clientBasedCORS: () => true,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => resourceOf(client),
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => ({
        scope: 'tollgate',
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: accessTtl,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  // Access tokens carry what Tollgate reads: project, groups, name and email.
  async extraTokenClaims(ctx, token) {
    if (token.kind === 'ClientCredentials') {
      const m = MACHINES[token.clientId];
      return m && { project: m.project, groups: m.groups, name: m.name };
    }
    const a = ACCOUNTS[token.accountId];
    return a && { project: a.project, groups: a.groups, name: a.name, email: a.email };
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: accessTtl,
    ClientCredentials: accessTtl,
    IdToken: accessTtl,
    Session: 3600,
    Grant: 3600,
    Interaction: 600,
    RefreshToken: 3600,
    AuthorizationCode: 60,
  },
});
provider.proxy = false;
server.on('request', provider.callback());
console.log(`ready ${issuer}`);
