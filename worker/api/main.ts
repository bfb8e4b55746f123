import { once } from 'node:events';
import { connectTemporalClient, createPool } from '../../activities/connections';
import { directControlPlane } from '../../client/control-plane';
import { rolloutStarter } from '../../client/rollout-client';
import { loadConfigOrExit, type Config } from '../../policy/config';
import { insertVerifiedAction, type VerifiedAction } from '../../activities/store/verified-actions';
import { createAuthenticate } from './authenticate';
import { createOidcVerifier } from './oidc';
import { adminRoutes } from './admin-routes';
import { analysisRoutes } from './analysis-routes';
import { rolloutRoutes } from './rollout-routes';
import { buildApiServer } from './server';

/**
 * `npm run api`: the control-plane API (README "Identity and access") on PKG_API_PORT. It holds the
 * Postgres pool and Temporal client that pkgctl would otherwise open per command, so a CI job needs
 * only PKG_API_URL and a token. SIGINT/SIGTERM stop taking requests, finish those under way, exit.
 */
export async function runApi(config: Config): Promise<void> {
  const verifyJwt = createOidcVerifier(config);
  const pool = createPool(config);
  const temporal = await connectTemporalClient(config);
  const session = { config, pool: () => pool, temporal: () => Promise.resolve(temporal) };
  const deps = {
    plane: directControlPlane(session, { verifiedActors: true }),
    separatedEnvs: config.PKG_SEPARATED_ENVS,
    starterOf: (workflowId: string) => rolloutStarter(temporal, workflowId),
    recordVerifiedAction: (action: VerifiedAction) => insertVerifiedAction(pool, action),
  };
  const app = buildApiServer(deps, createAuthenticate(pool, verifyJwt), [
    ...rolloutRoutes,
    ...analysisRoutes,
    ...adminRoutes,
  ]);
  try {
    await app.listen({ host: config.PKG_API_HOST, port: config.PKG_API_PORT });
    process.stderr.write(
      `control-plane API on http://${config.PKG_API_HOST}:${config.PKG_API_PORT} ` +
        `(separation of duties in: ${config.PKG_SEPARATED_ENVS.join(', ') || 'none'}; ` +
        `OIDC ${verifyJwt ? `from ${config.PKG_OIDC_ISSUER}` : 'off'})\n`,
    );
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  } finally {
    await app.close();
    await temporal.connection.close();
    await pool.end();
  }
}

if (require.main === module) {
  runApi(loadConfigOrExit()).catch((error: Error) => {
    // A ConfigError (OIDC half configured) says what is missing in one line, like loadConfigOrExit's.
    process.stderr.write(`control-plane API failed: ${error.message}\n`);
    process.exit(1);
  });
}
