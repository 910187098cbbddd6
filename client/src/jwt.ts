/** The claims the SDK reads from an access token. */
export interface TokenTimes {
	/** Seconds since the epoch, as the server wrote them. */
	iat?: number;
	exp?: number;
}

/**
 * Reads a JWT's payload without verifying it: the client only needs to know when to refresh;
 * the server checks the signature.
 */
export function decodeJwt(token: string): TokenTimes | null {
	const part = token.split(".")[1];
	if (!part) return null;
	try {
		const base64 = part
			.replace(/-/g, "+")
			.replace(/_/g, "/")
			.padEnd(Math.ceil(part.length / 4) * 4, "=");
		const binary = atob(base64);
		const bytes = Uint8Array.from(binary, c => c.charCodeAt(0));
		const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
		return payload && typeof payload === "object" ? (payload as TokenTimes) : null;
	} catch {
		return null;
	}
}
