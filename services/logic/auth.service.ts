import bcrypt from "bcryptjs";
import crypto from "crypto";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/actions";
import {
	AccessClaims, guestUsername, newRefreshToken, parseRefreshToken, PASSWORD_MAX, PASSWORD_MIN,
	signAccessToken, usernameKey, USERNAME_PATTERN, verifyAccessToken
} from "../../lib/auth-rules";
import { getConfig } from "../../lib/config";
import { fail } from "../../lib/errors";
import { LoginLimiter } from "../../lib/state/login-limiter";
import type { AuthMeta, AuthResult, User } from "../../lib/types";
import { displayNameRule } from "../../lib/validation";
import { createSnowflakeMixin, SnowflakeThis } from "../../mixins/snowflake.mixin";
import { createStateMixin, StateThis } from "../../mixins/state.mixin";

interface AuthMethods {
	startSession(ctx: Context, user: User): Promise<AuthResult>;
	accessToken(claims: AccessClaims): string;
}
type AuthThis = Service & SnowflakeThis & StateThis & AuthMethods & { limiter: LoginLimiter; dummyHash: string };

interface RegisterParams { username: string; password: string; displayName?: string }
interface LoginParams { username: string; password: string }

const username = {
	type: "string",
	pattern: USERNAME_PATTERN,
	messages: { stringPattern: "The username must be 3-32 letters, digits or underscores" }
};
const password = {
	type: "string",
	min: PASSWORD_MIN,
	max: PASSWORD_MAX,
	messages: { stringMin: `The password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`, stringMax: `The password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters` }
};

/**
 * Accounts and sessions: register, log in (as a user or a guest), rotate refresh tokens, log out.
 * An access token is valid only while its session is: logging out revokes it at once.
 */
const AuthService: ServiceSchema<ServiceSettingSchema, AuthThis> = {
	name: "auth",
	mixins: [createSnowflakeMixin(), createStateMixin()],

	actions: {
		register: {
			params: { username, password, displayName: { ...displayNameRule, optional: true } },
			async handler(this: AuthThis, ctx: Context<RegisterParams>): Promise<AuthResult> {
				const { username: name, password: secret, displayName } = ctx.params;
				const user = await call(ctx, "repo.users.create", {
					id: this.nextId(),
					username: name,
					usernameKey: usernameKey(name),
					passwordHash: await bcrypt.hash(secret, getConfig().bcryptRounds),
					displayName: displayName || name,
					isGuest: false
				});
				return this.startSession(ctx, user);
			}
		},

		login: {
			params: { username: { type: "string", min: 1, max: 64 }, password: { type: "string", min: 1, max: PASSWORD_MAX } },
			async handler(this: AuthThis, ctx: Context<LoginParams>): Promise<AuthResult> {
				const key = usernameKey(ctx.params.username);
				const wait = await this.limiter.retryAfter(key);
				if (wait > 0) fail("TOO_MANY_ATTEMPTS", `Too many failed logins for this username; retry in ${wait} s`, { retryAfter: wait });

				const found = await call(ctx, "repo.users.findCredentials", { usernameKey: key });
				// Compare against a dummy hash when the user is unknown, so timing does not reveal which names exist.
				const matches = await bcrypt.compare(ctx.params.password, found?.passwordHash ?? this.dummyHash);
				if (!found || !found.passwordHash || !matches) {
					await this.limiter.recordFailure(key);
					fail("INVALID_CREDENTIALS", "Wrong username or password");
				}
				await this.limiter.reset(key);
				return this.startSession(ctx, found.user);
			}
		},

		guest: {
			params: { displayName: { ...displayNameRule, optional: true } },
			async handler(this: AuthThis, ctx: Context<{ displayName?: string }>): Promise<AuthResult> {
				const name = guestUsername();
				const user = await call(ctx, "repo.users.create", {
					id: this.nextId(),
					username: name,
					usernameKey: name,
					passwordHash: null,
					displayName: ctx.params.displayName || `Guest ${name.slice(-4)}`,
					isGuest: true
				});
				return this.startSession(ctx, user);
			}
		},

		/** Rotation: each refresh token works once; presenting a used one ends its session. */
		refresh: {
			params: { refreshToken: { type: "string", min: 1, max: 200 } },
			async handler(this: AuthThis, ctx: Context<{ refreshToken: string }>): Promise<AuthResult> {
				const parsed = parseRefreshToken(ctx.params.refreshToken);
				if (!parsed) fail("REFRESH_TOKEN_INVALID", "The refresh token is invalid");
				const session = await call(ctx, "repo.sessions.get", { id: parsed.sessionId });
				if (!session || session.revokedAt || Date.parse(session.expiresAt) <= Date.now()) {
					fail("REFRESH_TOKEN_INVALID", "The refresh token is invalid or expired");
				}
				const next = newRefreshToken(session.id);
				const rotated = await call(ctx, "repo.sessions.rotate", {
					id: session.id,
					currentHash: parsed.hash,
					nextHash: next.hash,
					expiresAt: new Date(Date.now() + getConfig().refreshTokenTtlSeconds * 1000).toISOString()
				});
				if (!rotated) {
					// A refresh token used twice was copied: end the session for both holders.
					await call(ctx, "repo.sessions.revoke", { id: session.id });
					ctx.broadcast("session.revoked", { sessionId: session.id, userId: session.userId });
					this.logger.warn(`Refresh token reuse on session ${session.id}; session revoked`);
					fail("REFRESH_TOKEN_INVALID", "The refresh token was already used; log in again");
				}
				const user = await call(ctx, "repo.users.get", { id: session.userId });
				if (!user) fail("REFRESH_TOKEN_INVALID", "The refresh token's user no longer exists");
				return {
					user,
					accessToken: this.accessToken({ userId: user.id, sessionId: session.id }),
					refreshToken: next.token
				};
			}
		},

		logout: {
			params: {},
			async handler(this: AuthThis, ctx: Context<unknown, AuthMeta>): Promise<{ ok: true }> {
				if (!ctx.meta.sessionId) fail("UNAUTHORIZED", "Log in first");
				await call(ctx, "repo.sessions.revoke", { id: ctx.meta.sessionId });
				// A socket's token was checked at its handshake only: the gateways drop this session's sockets.
				ctx.broadcast("session.revoked", { sessionId: ctx.meta.sessionId, userId: ctx.meta.userId });
				return { ok: true };
			}
		},

		/** For the gateway: who holds this access token, if its session is still live. */
		resolveToken: {
			visibility: "public",
			params: { token: "string" },
			async handler(this: AuthThis, ctx: Context<{ token: string }>): Promise<AccessClaims> {
				const claims = verifyAccessToken(ctx.params.token, getConfig().jwtSecret);
				const session = await call(ctx, "repo.sessions.get", { id: claims.sessionId });
				if (!session || session.revokedAt || session.userId !== claims.userId) {
					fail("TOKEN_REVOKED", "The access token's session has ended (logged out or revoked)");
				}
				return claims;
			}
		}
	},

	methods: {
		async startSession(this: AuthThis, ctx: Context, user: User): Promise<AuthResult> {
			const sessionId = crypto.randomUUID();
			const refresh = newRefreshToken(sessionId);
			await call(ctx, "repo.sessions.create", {
				id: sessionId,
				userId: user.id,
				refreshHash: refresh.hash,
				expiresAt: new Date(Date.now() + getConfig().refreshTokenTtlSeconds * 1000).toISOString()
			});
			return { user, accessToken: this.accessToken({ userId: user.id, sessionId }), refreshToken: refresh.token };
		},

		accessToken(this: AuthThis, claims: AccessClaims): string {
			const config = getConfig();
			return signAccessToken(claims, config.jwtSecret, config.accessTokenTtlSeconds);
		}
	},

	created(this: AuthThis) {
		const config = getConfig();
		this.limiter = new LoginLimiter(this.state, config.loginMaxFailures, config.loginLockoutSeconds);
		this.dummyHash = bcrypt.hashSync(crypto.randomBytes(16).toString("hex"), config.bcryptRounds);
	}
};

export default AuthService;
