import crypto from "crypto";
import jwt from "jsonwebtoken";
import {
	newRefreshToken,
	PASSWORD_MAX,
	PASSWORD_MIN,
	PASSWORD_PATTERN,
	parseRefreshToken,
	REFRESH_TOKEN_CHARS,
	signAccessToken,
	usernameKey,
	USERNAME_PATTERN,
	verifyAccessToken
} from "../../../lib/auth-rules";

const SECRET = "s".repeat(32);
const isValidUsername = (name: string) => USERNAME_PATTERN.test(name);
const isValidPassword = (password: string) => password.length >= PASSWORD_MIN && password.length <= PASSWORD_MAX;

describe("account rules", () => {
	test.each(["abc", "Alice_01", "x".repeat(32), "___"])("accepts username %p", name =>
		expect(isValidUsername(name)).toBe(true)
	);
	test.each(["ab", "x".repeat(33), "bad-name", "space name", "ünïcode", "", "alice   ", " alice", "ali\u0000ce"])(
		"refuses username %p",
		name => expect(isValidUsername(name)).toBe(false)
	);
	test("usernames compare case-insensitively", () => expect(usernameKey("AlIcE")).toBe(usernameKey("alice")));
	test("passwords are 8 to 128 characters", () => {
		expect(isValidPassword("1234567")).toBe(false);
		expect(isValidPassword("12345678")).toBe(true);
		expect(isValidPassword("x".repeat(128))).toBe(true);
		expect(isValidPassword("x".repeat(129))).toBe(false);
	});
});

describe("access tokens", () => {
	test("round-trip the user and session", () => {
		const token = signAccessToken({ userId: "123", sessionId: "s-1" }, SECRET, 60);
		expect(verifyAccessToken(token, SECRET)).toEqual({ userId: "123", sessionId: "s-1" });
	});

	test("an expired token says so", () => {
		const token = jwt.sign({ sid: "s", exp: Math.floor(Date.now() / 1000) - 10 }, SECRET, { subject: "1" });
		expect(() => verifyAccessToken(token, SECRET)).toThrow(
			expect.objectContaining({ type: "TOKEN_EXPIRED", code: 401 })
		);
	});

	test("a token signed with another secret or algorithm is invalid", () => {
		const other = signAccessToken({ userId: "1", sessionId: "s" }, "o".repeat(32), 60);
		expect(() => verifyAccessToken(other, SECRET)).toThrow(expect.objectContaining({ type: "TOKEN_INVALID" }));
		const unsigned = jwt.sign({ sid: "s", sub: "1" }, "", { algorithm: "none" });
		expect(() => verifyAccessToken(unsigned, SECRET)).toThrow(expect.objectContaining({ type: "TOKEN_INVALID" }));
	});

	test("a token without a session claim is invalid", () => {
		const token = jwt.sign({}, SECRET, { subject: "1", expiresIn: 60 });
		expect(() => verifyAccessToken(token, SECRET)).toThrow(expect.objectContaining({ type: "TOKEN_INVALID" }));
	});
});

describe("refresh tokens", () => {
	const sessionId = crypto.randomUUID();

	test("carry their session and store only a hash of the secret", () => {
		const { token, hash } = newRefreshToken(sessionId);
		expect(token.startsWith(`${sessionId}.`)).toBe(true);
		expect(token).not.toContain(hash);
		expect(REFRESH_TOKEN_CHARS.test(token)).toBe(true);
		expect(parseRefreshToken(token)).toEqual({ sessionId, hash });
	});

	test("two tokens of one session differ", () => {
		expect(newRefreshToken(sessionId).hash).not.toBe(newRefreshToken(sessionId).hash);
	});

	const secret = "A".repeat(43);
	test.each([
		"",
		"nodot",
		".secret",
		"session.",
		`session-1.${secret}`,
		`${sessionId}.`,
		`${sessionId}.${secret}x`,
		`${sessionId.toUpperCase()}.${secret}`,
		`${sessionId}.${"A".repeat(42)}=`,
		`${sessionId}\u0000.${secret}`,
		` ${sessionId}.${secret}`
	])("refuses malformed token %p", token => {
		expect(parseRefreshToken(token)).toBeNull();
	});

	test.each(["\u0000", "a b", "tab\there", "é"])("a token with %p is not even well-formed input", token => {
		expect(REFRESH_TOKEN_CHARS.test(token)).toBe(false);
	});
});

describe("passwords", () => {
	test.each(["correct horse", "pässwörd 🐴", "tab-free!"])("may hold %p", password =>
		expect(PASSWORD_PATTERN.test(password)).toBe(true)
	);
	test.each(["nul\u0000byte", "esc\u001bape", "del\u007f", "new\nline"])(
		"refuses control characters in %p",
		password => {
			expect(PASSWORD_PATTERN.test(password)).toBe(false);
		}
	);
});
