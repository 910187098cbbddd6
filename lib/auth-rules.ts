import crypto from "crypto";
import jwt from "jsonwebtoken";
import { GoChatError } from "./errors";

/** The rules of accounts and tokens, free of I/O so they can be tested alone. */

export const USERNAME_PATTERN = /^[A-Za-z0-9_]{3,32}$/;
/** Any characters but control characters (NUL, escape, DEL...): they are typos or attacks, never a password. */
export const PASSWORD_PATTERN = /^[^\p{Cc}]*$/u;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
export const DISPLAY_NAME_MAX = 64;

/** Usernames are unique regardless of case: "Alice" and "alice" are one account. */
export function usernameKey(username: string): string {
	return username.toLowerCase();
}

export function guestUsername(): string {
	return `guest_${crypto.randomBytes(6).toString("hex")}`;
}

export interface AccessClaims {
	userId: string;
	sessionId: string;
}

/**
 * jsonwebtoken turns a string secret into a key on every call, first trying it as a PEM public
 * key and building a stack trace when that fails: a few hundred microseconds per request. The
 * key is made once per secret instead.
 */
const keys = new Map<string, crypto.KeyObject>();
function keyOf(secret: string): crypto.KeyObject {
	let key = keys.get(secret);
	if (!key) {
		key = crypto.createSecretKey(Buffer.from(secret, "utf8"));
		keys.set(secret, key);
	}
	return key;
}

export function signAccessToken(claims: AccessClaims, secret: string, ttlSeconds: number): string {
	return jwt.sign({ sid: claims.sessionId }, keyOf(secret), {
		algorithm: "HS256",
		subject: claims.userId,
		expiresIn: ttlSeconds
	});
}

/** Verifies signature, algorithm and expiry; says which one failed. */
export function verifyAccessToken(token: string, secret: string): AccessClaims {
	let payload: jwt.JwtPayload | string;
	try {
		payload = jwt.verify(token, keyOf(secret), { algorithms: ["HS256"] });
	} catch (err) {
		if ((err as Error).name === "TokenExpiredError")
			throw new GoChatError("TOKEN_EXPIRED", "The access token has expired");
		throw new GoChatError("TOKEN_INVALID", "The access token is invalid");
	}
	if (typeof payload === "string" || typeof payload.sub !== "string" || typeof payload.sid !== "string") {
		throw new GoChatError("TOKEN_INVALID", "The access token is invalid");
	}
	return { userId: payload.sub, sessionId: payload.sid };
}

/**
 * A refresh token is "<sessionId>.<secret>"; only a hash of the secret is stored, so a leaked
 * database does not hand out sessions.
 */
export function newRefreshToken(sessionId: string): { token: string; hash: string } {
	const secret = crypto.randomBytes(32).toString("base64url");
	return { token: `${sessionId}.${secret}`, hash: hashSecret(secret) };
}

/** What a client may send as a refresh token: printable ASCII; anything else is a malformed request. */
export const REFRESH_TOKEN_CHARS = /^[\x21-\x7e]{1,200}$/;
/** The exact shape newRefreshToken makes: a v4 UUID, a dot, 32 bytes in base64url. */
const REFRESH_TOKEN_SHAPE =
	/^([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

/** Null unless the token has the shape this server makes, so a malformed one never reaches the database. */
export function parseRefreshToken(token: string): { sessionId: string; hash: string } | null {
	const match = REFRESH_TOKEN_SHAPE.exec(token);
	return match ? { sessionId: match[1], hash: hashSecret(match[2]) } : null;
}

function hashSecret(secret: string): string {
	return crypto.createHash("sha256").update(secret).digest("hex");
}
