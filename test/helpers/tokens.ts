import jwt from "jsonwebtoken";

/** Access tokens an attacker (or a stale client) might present: forged, tampered, expired, unsigned. */

export interface AccessClaims {
	/** The user ID (JWT `sub`). */
	sub: string;
	/** The session ID. */
	sid: string;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** The claims of a token the server issued (not verified: the tests only read their own tokens). */
export function claimsOf(token: string): AccessClaims & { exp: number; iat: number } {
	return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** A token signed with `secret`; `expiresIn` in seconds may be negative to make one that has already expired. */
export function signToken(
	claims: AccessClaims,
	secret: string,
	options: { expiresIn?: number; algorithm?: jwt.Algorithm } = {}
): string {
	const now = Math.floor(Date.now() / 1000);
	const expiresIn = options.expiresIn ?? 900;
	return jwt.sign({ sid: claims.sid, sub: claims.sub, iat: now + expiresIn - 900, exp: now + expiresIn }, secret, {
		algorithm: options.algorithm ?? "HS256",
		noTimestamp: true
	});
}

/** `alg: none`: the claims of a live session with no signature at all. */
export function unsignedToken(claims: AccessClaims): string {
	const now = Math.floor(Date.now() / 1000);
	return `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sid: claims.sid, sub: claims.sub, iat: now, exp: now + 900 })}.`;
}

/** A real token whose payload was edited (here: another user's ID) while its signature was kept. */
export function tamperedToken(token: string, changes: Partial<AccessClaims>): string {
	const [header, , signature] = token.split(".");
	return `${header}.${base64url({ ...claimsOf(token), ...changes })}.${signature}`;
}
