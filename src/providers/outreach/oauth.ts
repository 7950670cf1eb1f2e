/**
 * Renewing Outreach access tokens (OAuth 2.0 refresh grant), for a connection configured with
 * OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET and OUTREACH_REFRESH_TOKEN. Outreach's docs: access
 * tokens live 2 hours (`expires_in` 7200), refresh tokens 14 days; a renewal is
 * `POST https://api.outreach.io/oauth/token` with a form body of client_id, client_secret,
 * redirect_uri, grant_type=refresh_token and refresh_token; the answer carries a new access token
 * and a new refresh token; more than one token per user per minute is refused (429).
 *
 * One renewal at a time, shared by every request that needs it; ahead of the expiry Outreach gave,
 * or after a 401. It is never cancelled half-way (a caller that gives up stops waiting): Outreach
 * may already have replaced the refresh token, and losing the answer would lose the connection.
 * The refresh token Outreach hands back is kept in memory only, never written anywhere.
 */
import type { Logger } from '../../log.js';
import { errorBodyReader } from '../../crm/error-body.js';
import { CrmError, isCrmError } from '../../crm/errors.js';
import { HttpClient, type AuthRenewal, type HttpTuning } from '../../crm/http.js';
import { raceAbort } from '../../crm/parallel.js';

export interface OAuthSettings {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** The redirect URI the app was authorized with; Outreach's docs send it with every token request. */
  redirectUri?: string;
}

/** Renew this long before the expiry Outreach gave, so no request goes out with a dying token. */
const EARLY_MS = 5 * 60_000;

/**
 * The token endpoint beside an API base URL: `https://api.outreach.io/api/v2` ->
 * `https://api.outreach.io/oauth/token` (a proxy's path before `/api/v2` is kept).
 */
export function tokenBase(apiBase: string): string {
  const u = new URL(apiBase);
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/api\/v2$/i, '')}`;
}
export const TOKEN_PATH = '/oauth/token';

interface TokenAnswer {
  access_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
}

export interface RenewalOptions {
  settings: OAuthSettings;
  apiBase: string;
  /** An access token was configured too: it is used until it fails (its expiry is not known). */
  haveAccessToken: boolean;
  /** Puts a new access token to use, and the rotated refresh token among the secrets to redact. */
  install(accessToken: string, secrets: string[]): void;
  logger?: Logger;
  tuning?: HttpTuning;
  now?: () => number;
}

export class TokenRenewal implements AuthRenewal {
  private refreshToken: string;
  private ready: boolean;
  private expiresAt?: number;
  private inflight?: Promise<void>;
  private readonly http: HttpClient;
  private readonly now: () => number;

  constructor(private readonly o: RenewalOptions) {
    this.refreshToken = o.settings.refreshToken;
    this.ready = o.haveAccessToken;
    this.now = o.now ?? (() => o.tuning?.clock?.now() ?? Date.now());
    const { limiter: _perHour, ...tuning } = o.tuning ?? {};
    this.http = new HttpClient({
      provider: 'Outreach',
      baseUrl: tokenBase(o.apiBase),
      secrets: [o.settings.clientSecret, o.settings.refreshToken],
      // Doorkeeper's {error, error_description}.
      describeError: errorBodyReader({ messageKeys: ['error_description', 'error', 'message'] }),
      logger: o.logger,
      ...tuning,
    });
  }

  async beforeRequest(signal?: AbortSignal): Promise<void> {
    const dying = this.expiresAt !== undefined && this.now() >= this.expiresAt - EARLY_MS;
    if (!this.ready || dying) await raceAbort(this.renew(), signal, 'Outreach');
  }

  async afterUnauthorized(signal?: AbortSignal): Promise<boolean> {
    await raceAbort(this.renew(), signal, 'Outreach');
    return true;
  }

  private renew(): Promise<void> {
    this.inflight ??= this.exchange().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async exchange(): Promise<void> {
    const { clientId, clientSecret, redirectUri } = this.o.settings;
    let answer: TokenAnswer | undefined;
    try {
      const res = await this.http.request<TokenAnswer>({
        method: 'POST',
        path: TOKEN_PATH,
        form: {
          client_id: clientId,
          client_secret: clientSecret,
          ...(redirectUri ? { redirect_uri: redirectUri } : {}),
          grant_type: 'refresh_token',
          refresh_token: this.refreshToken,
        },
      });
      answer = res.body;
    } catch (e) {
      throw renewalFailed(e);
    }
    const access = typeof answer?.access_token === 'string' && answer.access_token ? answer.access_token : undefined;
    if (!access) {
      throw new CrmError('auth', 'Outreach answered the token renewal without an access token, so crm-mcp cannot call it; try again shortly.', {
        provider: 'Outreach',
      });
    }
    const rotated = typeof answer?.refresh_token === 'string' && answer.refresh_token ? answer.refresh_token : undefined;
    if (rotated) this.refreshToken = rotated;
    this.http.addSecrets([access, ...(rotated ? [rotated] : [])]);
    this.o.install(access, rotated ? [rotated] : []);
    this.ready = true;
    const seconds = typeof answer?.expires_in === 'number' && answer.expires_in > 0 ? answer.expires_in : undefined;
    this.expiresAt = seconds === undefined ? undefined : this.now() + seconds * 1000;
    this.o.logger?.info({ provider: 'Outreach', expiresInSeconds: seconds, refreshTokenRotated: Boolean(rotated) }, 'access token renewed');
  }
}

/** One sentence for a renewal that failed: what Outreach said, and what the user can do. */
function renewalFailed(e: unknown): CrmError {
  if (!isCrmError(e)) return new CrmError('auth', 'crm-mcp could not renew the Outreach access token; try again shortly.', { provider: 'Outreach' });
  const said = e.message.replace(/ Check the API token\.$/, '');
  if (e.kind === 'validation' || e.kind === 'auth') {
    return new CrmError(
      'auth',
      `Outreach did not renew the access token (${said.replace(/\.$/, '')}): authorize crm-mcp in Outreach again and set the new refresh token in OUTREACH_REFRESH_TOKEN (check OUTREACH_CLIENT_ID and OUTREACH_CLIENT_SECRET too).`,
      { provider: 'Outreach', status: e.status },
    );
  }
  return new CrmError(e.kind, `Renewing the Outreach access token failed: ${said}`, {
    provider: 'Outreach',
    status: e.status,
    retryAfterSeconds: e.retryAfterSeconds,
  });
}
