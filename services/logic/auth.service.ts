import crypto from "crypto";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call, serviceActions } from "../../lib/contracts";
import type { LoginParams, RegisterParams } from "../../lib/contracts/logic";
import {
	AccessClaims,
	guestUsername,
	newRefreshToken,
	parseRefreshToken,
	PASSWORD_MAX,
	PASSWORD_MIN,
	PASSWORD_PATTERN,
	REFRESH_TOKEN_CHARS,
	signAccessToken,
	usernameKey,
	USERNAME_PATTERN,
	verifyAccessToken
} from "../../lib/auth-rules";
import { fail } from "../../lib/errors";
import { PasswordHasher } from "../../lib/password-hasher";
import { Rate, retryAfterSeconds } from "../../lib/rate-limit";
import { NO_RETRY } from "../../lib/resilience";
import { LoginScope, LoginThrottle } from "../../lib/state/login-throttle";
import type { CreateUserParams } from "../../lib/contracts/repo";
import type { AuthMeta, AuthResult, User } from "../../lib/types";
import { displayNameRule } from "../../lib/validation";
import { createSnowflakeMixin, SnowflakeThis } from "../../mixins/snowflake.mixin";
import { createStateMixin, StateThis } from "../../mixins/state.mixin";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

interface AuthMethods {
	startSession(ctx: Context, user: User): Promise<AuthResult>;
	createUser(ctx: Context, user: Omit<CreateUserParams, "id">): Promise<User>;
	accessToken(claims: AccessClaims): string;
	limitRate(ctx: Context<unknown, AuthMeta>, what: "login" | "signup", rate: Rate | null): Promise<void>;
	checkPassword(ctx: Context<LoginParams>, key: string): Promise<User | null>;
}
type AuthThis = Service &
	ConfigThis &
	SnowflakeThis &
	StateThis &
	AuthMethods & {
		throttle: LoginThrottle;
		hasher: PasswordHasher;
		dummyHash: string;
	};

const username = {
	type: "string",
	pattern: USERNAME_PATTERN,
	messages: { stringPattern: "The username must be 3-32 letters, digits or underscores" }
};
const passwordLength = `The password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`;
const password = {
	type: "string",
	min: PASSWORD_MIN,
	max: PASSWORD_MAX,
	pattern: PASSWORD_PATTERN,
	messages: {
		stringMin: passwordLength,
		stringMax: passwordLength,
		stringPattern: "The password must not contain control characters"
	}
};

/** Refusals by the login throttle, by the counter that refused. */
const THROTTLED: Record<LoginScope, string> = {
	pair: "Too many failed logins for this username from your address",
	address: "Too many failed logins from your address",
	username: "Too many failed logins for this username"
};

/** The per-address rate's key prefix and the words of its refusal. */
const RATES = {
	login: { key: "rate:login:", refusal: "Too many login attempts from your address" },
	signup: { key: "rate:signup:", refusal: "Too many sign-ups from your address" }
};

/**
 * Accounts and sessions: register, log in (as a user or a guest), rotate refresh tokens, log out.
 * An access token is valid only while its session is: logging out revokes it at once.
 */
const AuthService: ServiceSchema<ServiceSettingSchema, AuthThis> = {
	name: "auth",
	mixins: [createConfigMixin(), createSnowflakeMixin(), createStateMixin()],

	actions: serviceActions("auth", {
		register: {
			retryPolicy: NO_RETRY,
			params: { username, password, displayName: { ...displayNameRule, optional: true } },
			async handler(this: AuthThis, ctx: Context<RegisterParams, AuthMeta>): Promise<AuthResult> {
				await this.limitRate(ctx, "signup", this.config.signupRate);
				const { username: name, password: secret, displayName } = ctx.params;
				const user = await this.createUser(ctx, {
					username: name,
					usernameKey: usernameKey(name),
					passwordHash: await this.hasher.hash(secret),
					displayName: displayName || name,
					isGuest: false
				});
				return this.startSession(ctx, user);
			}
		},

		/**
		 * The attempt is counted as a failure before the password is checked (and taken back when
		 * it was right), so concurrent guesses cannot get past the throttle (see LoginThrottle).
		 */
		login: {
			retryPolicy: NO_RETRY,
			// A name that could not be registered is refused before any lookup: "alice   " is not "alice".
			params: { username, password: { ...password, min: 1 } },
			async handler(this: AuthThis, ctx: Context<LoginParams, AuthMeta>): Promise<AuthResult> {
				await this.limitRate(ctx, "login", this.config.loginRate);
				const key = usernameKey(ctx.params.username);
				const verdict = await this.throttle.attempt(ctx.meta.clientAddress ?? "unknown", key, () =>
					this.checkPassword(ctx, key)
				);
				if (!verdict.allowed) {
					fail("TOO_MANY_ATTEMPTS", `${THROTTLED[verdict.scope]}; retry in ${verdict.retryAfterSeconds} s`, {
						retryAfter: verdict.retryAfterSeconds
					});
				}
				if (!verdict.result) fail("INVALID_CREDENTIALS", "Wrong username or password");
				// Idempotent: heals an account that missed its world membership.
				await call(ctx, "repo.members.joinWorld", { userId: verdict.result.id });
				return this.startSession(ctx, verdict.result);
			}
		},

		guest: {
			retryPolicy: NO_RETRY,
			params: { displayName: { ...displayNameRule, optional: true } },
			async handler(this: AuthThis, ctx: Context<{ displayName?: string }, AuthMeta>): Promise<AuthResult> {
				await this.limitRate(ctx, "signup", this.config.signupRate);
				const name = guestUsername();
				const user = await this.createUser(ctx, {
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
			retryPolicy: NO_RETRY,
			params: {
				refreshToken: {
					type: "string",
					pattern: REFRESH_TOKEN_CHARS,
					messages: { stringPattern: "The refresh token must be 1-200 printable ASCII characters" }
				}
			},
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
					expiresAt: new Date(Date.now() + this.config.refreshTokenTtlSeconds * 1000).toISOString()
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
			retryPolicy: NO_RETRY,
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
				const claims = verifyAccessToken(ctx.params.token, this.config.jwtSecret);
				const session = await call(ctx, "repo.sessions.get", { id: claims.sessionId });
				if (!session || session.revokedAt || session.userId !== claims.userId) {
					fail("TOKEN_REVOKED", "The access token's session has ended (logged out or revoked)");
				}
				return claims;
			}
		}
	}),

	methods: {
		/** Per-address attempt rates, shared by every node through the state store. */
		async limitRate(this: AuthThis, ctx: Context<unknown, AuthMeta>, what: "login" | "signup", rate: Rate | null) {
			if (!rate) return;
			const decision = await this.state.rateLimit(RATES[what].key + (ctx.meta.clientAddress ?? "unknown"), rate);
			if (decision.allowed) return;
			const retryAfter = retryAfterSeconds(decision.retryAfterMs);
			fail("RATE_LIMITED", `${RATES[what].refusal}; retry in ${retryAfter} s`, { retryAfter });
		},

		/**
		 * The user when the password is theirs. An unknown user costs a hash all the same (against
		 * a dummy hash), so timing does not tell which names exist.
		 */
		async checkPassword(this: AuthThis, ctx: Context<LoginParams>, key: string): Promise<User | null> {
			const found = await call(ctx, "repo.users.findCredentials", { usernameKey: key });
			const matches = await this.hasher.compare(ctx.params.password, found?.passwordHash ?? this.dummyHash);
			return found && found.passwordHash && matches ? found.user : null;
		},

		/** Every account is in the world room from its first moment. */
		async createUser(this: AuthThis, ctx: Context, user: Omit<CreateUserParams, "id">): Promise<User> {
			const created = await call(ctx, "repo.users.create", { id: this.nextId(), ...user });
			await call(ctx, "repo.members.joinWorld", { userId: created.id });
			return created;
		},

		async startSession(this: AuthThis, ctx: Context, user: User): Promise<AuthResult> {
			const sessionId = crypto.randomUUID();
			const refresh = newRefreshToken(sessionId);
			await call(ctx, "repo.sessions.create", {
				id: sessionId,
				userId: user.id,
				refreshHash: refresh.hash,
				expiresAt: new Date(Date.now() + this.config.refreshTokenTtlSeconds * 1000).toISOString()
			});
			return { user, accessToken: this.accessToken({ userId: user.id, sessionId }), refreshToken: refresh.token };
		},

		accessToken(this: AuthThis, claims: AccessClaims): string {
			const config = this.config;
			return signAccessToken(claims, config.jwtSecret, config.accessTokenTtlSeconds);
		}
	},

	created(this: AuthThis) {
		const config = this.config;
		this.throttle = new LoginThrottle(this.state, {
			pairFailures: config.loginMaxFailures,
			addressFailures: config.loginAddressMaxFailures,
			usernameFailures: config.loginUsernameMaxFailures,
			lockoutSeconds: config.loginLockoutSeconds
		});
		this.hasher = new PasswordHasher({
			workers: config.hashWorkers,
			queue: config.hashQueue,
			rounds: config.bcryptRounds
		});
	},

	async started(this: AuthThis) {
		this.dummyHash = await this.hasher.hash(crypto.randomBytes(16).toString("hex"));
	},

	async stopped(this: AuthThis) {
		await this.hasher.close();
	}
};

export default AuthService;
