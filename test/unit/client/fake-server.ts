import type { User } from "../../../lib/types";

/**
 * A fake GoChat auth server behind a fetch function: issues unsigned JWTs with iat/exp on the
 * (possibly faked) clock, rotates refresh tokens like the real one (reuse → 401), and answers
 * other routes with the caller's user, or 401 TOKEN_EXPIRED / TOKEN_REVOKED.
 */
export const alice: User = {
	id: "1",
	username: "alice",
	displayName: "Alice",
	avatarUrl: null,
	isGuest: false,
	createdAt: "2026-01-01T00:00:00.000Z"
};

export interface Call {
	method: string;
	path: string;
	authorization: string | null;
	body: unknown;
}

export function jwt(payload: object): string {
	const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
	return `${part({ alg: "HS256", typ: "JWT" })}.${part(payload)}.signature`;
}

export class FakeServer {
	ttlSeconds = 900;
	calls: Call[] = [];
	/** When set, refreshes fail like a dropped connection. */
	offline = false;
	/** Delays every answer by this many ms of (fake) time, so requests overlap. */
	delayMs = 0;
	private serial = 0;
	private refreshTokens = new Set<string>();
	private revoked = false;
	private expiredUpTo = 0;

	readonly fetch = (async (input: string, init: RequestInit = {}) => {
		const url = new URL(input);
		const method = init.method ?? "GET";
		const headers = (init.headers ?? {}) as Record<string, string>;
		const body = typeof init.body === "string" ? JSON.parse(init.body) : undefined;
		this.calls.push({
			method,
			path: url.pathname + url.search,
			authorization: headers.authorization ?? null,
			body
		});
		if (this.delayMs > 0) await new Promise(resolve => setTimeout(resolve, this.delayMs));
		if (this.offline) throw new TypeError("fetch failed");
		return this.answer(method, url.pathname, headers.authorization ?? null, body);
	}) as unknown as typeof fetch;

	/** Every access token issued so far now gets TOKEN_EXPIRED, whatever its exp says. */
	expireIssued(): void {
		this.expiredUpTo = this.serial;
	}

	/** Ends the session server-side: refreshes get 401, access tokens TOKEN_REVOKED. */
	revokeSession(): void {
		this.revoked = true;
	}

	refreshes(): number {
		return this.calls.filter(c => c.path.endsWith("/auth/refresh")).length;
	}

	/** A token pair as a login would hand out. */
	issue(): { accessToken: string; refreshToken: string; user: User } {
		const now = Math.floor(Date.now() / 1000);
		const serial = ++this.serial;
		const refreshToken = `s1.r${serial}`;
		this.refreshTokens.add(refreshToken);
		return {
			accessToken: jwt({ sub: alice.id, n: serial, iat: now, exp: now + this.ttlSeconds }),
			refreshToken,
			user: alice
		};
	}

	private answer(
		method: string,
		path: string,
		authorization: string | null,
		body: { refreshToken?: string }
	): Response {
		const route = `${method} ${path.replace("/api/v1", "")}`;
		if (route === "POST /auth/login" || route === "POST /auth/guest") return json(201, this.issue());
		if (route === "POST /auth/refresh") {
			if (this.revoked || !this.refreshTokens.delete(body.refreshToken ?? "")) {
				// Reuse revokes the whole session, like the real server.
				this.revoked = true;
				return error(401, "REFRESH_TOKEN_INVALID");
			}
			return json(200, this.issue());
		}
		const token = authorization?.replace("Bearer ", "") ?? "";
		const { exp, n } = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString() || "{}");
		if (typeof exp !== "number") return error(401, "TOKEN_INVALID");
		if (this.revoked) return error(401, "TOKEN_REVOKED");
		if (exp * 1000 <= Date.now() || n <= this.expiredUpTo) return error(401, "TOKEN_EXPIRED");
		if (route === "POST /auth/logout") {
			this.revoked = true;
			return json(200, { ok: true });
		}
		return json(200, { user: alice });
	}
}

function json(status: number, body: unknown): Response {
	return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function error(status: number, code: string): Response {
	return json(status, { error: { code, message: code } });
}
