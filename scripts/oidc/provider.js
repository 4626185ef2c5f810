// A real OpenID provider (oidc-provider, OpenID certified) on loopback for
// secure-api's tests. It issues JWT access tokens (RFC 9068) through the
// client-credentials grant for one resource, the audience given as the
// first argument, and prints one JSON line once it listens:
//
//   {"issuer":"http://127.0.0.1:PORT","kids":{"ES256":"..",..}}
//
// Clients (secret `secret-<id>`) and what their tokens carry:
//   reports          scope reports:read, ES256, realm_access.roles [auditor]
//   reports-rs256    scope reports:read, RS256
//   reports-ps256    scope reports:read, PS256
//   reports-es384    scope reports:read, ES384
//   reports-eddsa    scope reports:read, EdDSA
//   basic            scope orders:read, ES256
//
// `POST /__test/rotate` publishes a new key for every algorithm first (the
// new keys sign from then on, the old ones are still published) and answers
// the new kids. The process ends when its standard input closes.

import http from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const audience = process.argv[2] ?? 'https://orders.example.test';
const port = Number(process.argv[3] ?? 0);

const ALGS = {
  reports: 'ES256',
  'reports-rs256': 'RS256',
  'reports-ps256': 'PS256',
  'reports-es384': 'ES384',
  'reports-eddsa': 'EdDSA',
  basic: 'ES256',
};
const SCOPES = { basic: 'orders:read' };
const ROLES = { reports: ['auditor'] };

function keyFor(alg) {
  const kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
  let pair;
  switch (alg) {
    case 'ES256':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'ES384':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      break;
    case 'EdDSA':
      pair = generateKeyPairSync('ed25519');
      break;
    default:
      pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
  return { ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

function keySet() {
  return ['ES256', 'RS256', 'PS256', 'ES384', 'EdDSA'].map(keyFor);
}

let keys = keySet();

function build(issuer) {
  const provider = new Provider(issuer, {
    clients: Object.keys(ALGS).map((id) => ({
      client_id: id,
      client_secret: `secret-${id}`,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    })),
    jwks: { keys },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => ({
          scope: SCOPES[client.clientId] ?? 'reports:read',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: ALGS[client.clientId] ?? 'ES256' } },
        }),
      },
    },
    extraTokenClaims: (ctx, token) => {
      const roles = ROLES[token.clientId];
      return roles ? { realm_access: { roles } } : undefined;
    },
  });
  provider.on('server_error', (ctx, error) => console.error('provider error', error));
  return provider;
}

function kids() {
  const first = {};
  for (const key of keys) first[key.alg] ??= key.kid;
  return first;
}

let current;
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/__test/rotate') {
    keys = [...keySet(), ...keys];
    current = build(issuer).callback();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kids: kids() }));
    return;
  }
  current(req, res);
});

let issuer;
server.listen(port, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  current = build(issuer).callback();
  process.stdout.write(`${JSON.stringify({ issuer, kids: kids() })}\n`);
});

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
