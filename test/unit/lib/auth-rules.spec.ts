import jwt from "jsonwebtoken";
import {
	newRefreshToken, PASSWORD_MAX, PASSWORD_MIN, parseRefreshToken, signAccessToken, usernameKey, USERNAME_PATTERN, verifyAccessToken
} from "../../../lib/auth-rules";

const SECRET = "s".repeat(32);
const isValidUsername = (name: string) => USERNAME_PATTERN.test(name);
const isValidPassword = (password: string) => password.length >= PASSWORD_MIN && password.length <= PASSWORD_MAX;

describe("account rules", () => {
	test.each(["abc", "Alice_01", "x".repeat(32), "___"])("accepts username %p", name => expect(isValidUsername(name)).toBe(true));
	test.each(["ab", "x".repeat(33), "bad-name", "space name", "ünïcode", ""])("refuses username %p", name => expect(isValidUsername(name)).toBe(false));
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
		expect(() => verifyAccessToken(token, SECRET)).toThrow(expect.objectContaining({ type: "TOKEN_EXPIRED", code: 401 }));
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
	test("carry their session and store only a hash of the secret", () => {
		const { token, hash } = newRefreshToken("session-1");
		expect(token.startsWith("session-1.")).toBe(true);
		expect(token).not.toContain(hash);
		expect(parseRefreshToken(token)).toEqual({ sessionId: "session-1", hash });
	});

	test("two tokens of one session differ", () => {
		expect(newRefreshToken("s").hash).not.toBe(newRefreshToken("s").hash);
	});

	test.each(["", "nodot", ".secret", "session."])("refuses malformed token %p", token => {
		expect(parseRefreshToken(token)).toBeNull();
	});
});
