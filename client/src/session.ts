import type { RegisterParams } from "../../lib/contracts/client";
import type { AuthResult, User } from "../../lib/types";
import { Emitter } from "./emitter";
import { GoChatError } from "./errors";
import { Http } from "./http";
import { decodeJwt } from "./jwt";
import { MemoryTokenStore } from "./token-store";
import type { ClientOptions, StoredTokens, TokenStore } from "./types";

export type SignOutReason = "logout" | "expired" | "revoked";

export interface SessionEvents {
	/** After every login, registration, guest login, restore and refresh. */
	tokens: { accessToken: string; user: User };
	/** The tokens are gone: logged out, or the server refused them (the store is cleared). */
	signedOut: { reason: SignOutReason };
}

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
// setTimeout fires at once past this (about 24.8 days).
const TIMER_MAX_MS = 2 ** 31 - 1;

/**
 * The signed-in user and their tokens: refreshed before they expire, one refresh at a time (a
 * refresh token works once, and reusing it revokes the session: docs/api.md "Refresh token rotation").
 */
export class Session extends Emitter<SessionEvents> {
	readonly http: Http;
	private readonly store: TokenStore;
	private readonly refreshBeforeMs: number;
	private tokens: StoredTokens | null = null;
	/** When the access token expires, on this client's clock. */
	private expiresAt = 0;
	private lifetimeMs = 0;
	private refreshing: Promise<string> | null = null;
	private timer: ReturnType<typeof setTimeout> | undefined;
	private retryDelayMs = RETRY_MIN_MS;
	/** Moves on every sign-in and sign-out, so an answer that arrives late is not taken for the current one. */
	private epoch = 0;
	private disposed = false;

	constructor(options: ClientOptions, http = new Http(options)) {
		super();
		this.http = http;
		this.store = options.tokenStore ?? new MemoryTokenStore();
		this.refreshBeforeMs = options.refreshBeforeExpiryMs ?? 60_000;
	}

	get user(): User | null {
		return this.tokens?.user ?? null;
	}

	/** The access token held now, without refreshing (null when signed out). */
	get currentToken(): string | null {
		return this.tokens?.accessToken ?? null;
	}

	async login(username: string, password: string): Promise<User> {
		return this.start(await this.http.call("auth.login", { username, password }));
	}

	async register(params: RegisterParams): Promise<User> {
		return this.start(await this.http.call("auth.register", params));
	}

	async guest(displayName?: string): Promise<User> {
		return this.start(await this.http.call("auth.guest", displayName === undefined ? {} : { displayName }));
	}

	/**
	 * Signs in again with the stored tokens, refreshing them first when they expire soon. Answers
	 * null when none are stored or the server refused them; offline, it keeps them and retries later.
	 */
	async restore(): Promise<User | null> {
		const stored = await this.loadStore();
		if (!stored) return null;
		this.adopt(stored, false);
		if (this.needsRefresh()) {
			try {
				await this.refreshNow();
				return this.user;
			} catch {
				if (!this.tokens) return null;
			}
		}
		this.emit("tokens", { accessToken: stored.accessToken, user: stored.user });
		return this.user;
	}

	/** Ends the session on the server (best effort), forgets the tokens and emits signedOut "logout". */
	async logout(): Promise<void> {
		const tokens = this.tokens;
		const expired = Date.now() >= this.expiresAt;
		this.forget();
		if (!tokens) return;
		const epoch = this.epoch;
		try {
			// Logout needs a valid access token; an expired one is refreshed first.
			const access = expired
				? (await this.http.call("auth.refresh", { refreshToken: tokens.refreshToken })).accessToken
				: tokens.accessToken;
			await this.http.call("auth.logout", {}, access);
		} catch {
			// The server may be unreachable: the tokens are dropped all the same.
		}
		// Someone signed in while the server was asked: their tokens and state stay.
		if (this.epoch !== epoch) return;
		await this.clearStore();
		this.emit("signedOut", { reason: "logout" });
	}

	/** A valid access token: refreshed first when it expires within the refresh margin. */
	async accessToken(): Promise<string> {
		const tokens = this.tokens;
		if (!tokens) throw notSignedIn();
		if (!this.needsRefresh()) return tokens.accessToken;
		try {
			return await this.refreshNow();
		} catch (err) {
			// Offline with a token that has not expired yet: let the server judge it.
			if (this.tokens && Date.now() < this.expiresAt) return this.tokens.accessToken;
			throw err;
		}
	}

	/** Refreshes the tokens; callers at the same time share one request. Answers the new access token. */
	refreshNow(): Promise<string> {
		this.refreshing ??= this.refresh().finally(() => {
			this.refreshing = null;
		});
		return this.refreshing;
	}

	/**
	 * Forgets the tokens without calling the server, clears the store and emits signedOut: for
	 * tokens the server refused (TOKEN_REVOKED, `auth:revoked` on the socket).
	 */
	end(reason: Exclude<SignOutReason, "logout">): void {
		if (!this.tokens) return;
		this.forget();
		void this.clearStore();
		this.emit("signedOut", { reason });
	}

	/** Keeps a changed profile of the signed-in user (after users.updateMe or users.me). */
	updateUser(user: User): void {
		if (!this.tokens || this.tokens.user.id !== user.id) return;
		const { id, username, displayName, avatarUrl, isGuest, createdAt } = user;
		this.tokens = { ...this.tokens, user: { id, username, displayName, avatarUrl, isGuest, createdAt } };
		void this.saveStore(this.tokens);
	}

	/** Stops the refresh timer; the tokens stay stored. */
	dispose(): void {
		this.disposed = true;
		this.clearTimer();
	}

	private async start(result: AuthResult): Promise<User> {
		const tokens = { accessToken: result.accessToken, refreshToken: result.refreshToken, user: result.user };
		this.adopt(tokens, true);
		await this.saveStore(tokens);
		this.emit("tokens", { accessToken: tokens.accessToken, user: tokens.user });
		return tokens.user;
	}

	private async refresh(): Promise<string> {
		if (!this.tokens) throw notSignedIn();
		const mine = this.tokens;
		// Another tab sharing the store may have rotated the refresh token: ours is spent then.
		const stored = await this.loadStore();
		if (this.tokens !== mine) return this.afterChange();
		if (stored && stored.user.id === mine.user.id && stored.refreshToken !== mine.refreshToken) {
			this.adopt(stored, false);
			if (!this.needsRefresh()) {
				this.emit("tokens", { accessToken: stored.accessToken, user: stored.user });
				return stored.accessToken;
			}
		}
		const epoch = this.epoch;
		let result: AuthResult;
		try {
			result = await this.http.call("auth.refresh", { refreshToken: this.tokens.refreshToken });
		} catch (err) {
			if (this.epoch !== epoch) return this.afterChange();
			if (err instanceof GoChatError && (err.status === 401 || err.status === 400)) this.end("expired");
			else this.retryLater();
			throw err;
		}
		// Logged out or in again meanwhile: this answer belongs to a session that is gone.
		if (this.epoch !== epoch) return this.afterChange();
		await this.start(result);
		return result.accessToken;
	}

	private afterChange(): string {
		if (!this.tokens) throw notSignedIn();
		return this.tokens.accessToken;
	}

	/** Takes tokens as current; `fresh` ones were just issued, so their lifetime counts from now (clock skew). */
	private adopt(tokens: StoredTokens, fresh: boolean): void {
		this.epoch++;
		this.tokens = tokens;
		const { iat, exp } = decodeJwt(tokens.accessToken) ?? {};
		this.lifetimeMs = typeof iat === "number" && typeof exp === "number" ? (exp - iat) * 1000 : 0;
		if (typeof exp !== "number") this.expiresAt = Infinity;
		else this.expiresAt = fresh && this.lifetimeMs > 0 ? Date.now() + this.lifetimeMs : exp * 1000;
		this.retryDelayMs = RETRY_MIN_MS;
		this.schedule();
	}

	private forget(): void {
		this.epoch++;
		this.tokens = null;
		this.expiresAt = 0;
		this.clearTimer();
	}

	/** Refresh this long before expiry: the option, or a third of a short token's lifetime. */
	private marginMs(): number {
		return this.lifetimeMs > 0 ? Math.min(this.refreshBeforeMs, this.lifetimeMs / 3) : this.refreshBeforeMs;
	}

	private needsRefresh(): boolean {
		return Date.now() >= this.expiresAt - this.marginMs();
	}

	private schedule(): void {
		if (!this.tokens || this.disposed || this.expiresAt === Infinity) return this.clearTimer();
		this.setTimer(this.expiresAt - this.marginMs() - Date.now());
	}

	/** After a refresh that failed for a passing reason (network, 5xx): try again with backoff. */
	private retryLater(): void {
		if (!this.tokens || this.disposed) return;
		const jitter = 0.8 + Math.random() * 0.4;
		this.setTimer(this.retryDelayMs * jitter);
		this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_MS);
	}

	private setTimer(delayMs: number): void {
		this.clearTimer();
		this.timer = setTimeout(
			() => {
				this.timer = undefined;
				this.refreshNow().catch(() => undefined);
			},
			Math.min(Math.max(0, delayMs), TIMER_MAX_MS)
		);
		// In Node, a pending refresh must not keep the process alive.
		(this.timer as { unref?: () => void }).unref?.();
	}

	private clearTimer(): void {
		if (this.timer !== undefined) clearTimeout(this.timer);
		this.timer = undefined;
	}

	private async loadStore(): Promise<StoredTokens | null> {
		try {
			return (await this.store.load()) ?? null;
		} catch {
			return null;
		}
	}

	// A store that fails (storage full, private mode) must not fail the sign-in: the tokens are held in memory.
	private async saveStore(tokens: StoredTokens): Promise<void> {
		try {
			await this.store.save(tokens);
		} catch {
			/* kept in memory only */
		}
	}

	private async clearStore(): Promise<void> {
		try {
			await this.store.clear();
		} catch {
			/* nothing more to do */
		}
	}
}

function notSignedIn(): GoChatError {
	return new GoChatError(401, "UNAUTHORIZED", "Not signed in: log in, register or continue as a guest first");
}
