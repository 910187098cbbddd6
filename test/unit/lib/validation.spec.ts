import Validator from "fastest-validator";
import { toHttpError } from "../../../lib/errors";
import {
	avatarUrlRule,
	clientMsgIdRule,
	displayNameRule,
	messageContentRule,
	refuseNull
} from "../../../lib/validation";

/** The shared rules as the broker's validator (fastest-validator) applies them. */
const check = (rule: object, value: unknown) => new Validator().compile({ value: rule })({ value }) === true;

describe("shared parameter rules", () => {
	test.each(["a", "abc-123", "x".repeat(64), "inner space", "ünïcödé 😀", "CASE"])(
		"clientMsgId %j is accepted",
		id => {
			expect(check(clientMsgIdRule, id)).toBe(true);
		}
	);

	test.each([
		"",
		"x".repeat(65),
		"abc ",
		" abc",
		"abc\t",
		"abc\n",
		"\u00a0abc",
		"abc\u3000",
		"a\u0000b",
		"a\u0007",
		"a\u007f",
		"a\u0085",
		"a\ud800",
		"\udc00a",
		" "
	])("clientMsgId %j is refused", id => expect(check(clientMsgIdRule, id)).toBe(false));

	test("message content keeps newlines and tabs but not NUL or unpaired surrogates", () => {
		expect(check(messageContentRule, "line\n\tnext 😀")).toBe(true);
		expect(check(messageContentRule, "a\u0000b")).toBe(false);
		expect(check(messageContentRule, "a\ud83d")).toBe(false);
		expect(check(messageContentRule, "")).toBe(false);
	});

	test("display names refuse control characters and unpaired surrogates", () => {
		expect(check(displayNameRule, "Zoë 😀")).toBe(true);
		expect(check(displayNameRule, "a\u0000")).toBe(false);
		expect(check(displayNameRule, "a\udfff")).toBe(false);
	});

	test("avatar URLs are http(s), at most 512 characters, without spaces or control characters", () => {
		const base = "https://cdn.example.com/";
		expect(check(avatarUrlRule, base + "a".repeat(512 - base.length))).toBe(true);
		expect(check(avatarUrlRule, base + "a".repeat(513 - base.length))).toBe(false);
		expect(check(avatarUrlRule, "ftp://cdn.example.com/a.png")).toBe(false);
		expect(check(avatarUrlRule, `${base}a b.png`)).toBe(false);
		expect(check(avatarUrlRule, `${base}a\u0000.png`)).toBe(false);
	});

	test("refuseNull refuses a null field with INVALID_INPUT naming it, and lets absent fields pass", () => {
		expect(() => refuseNull({ displayName: undefined, avatarUrl: null }, ["displayName"])).not.toThrow();
		let thrown: unknown;
		try {
			refuseNull({ displayName: null }, ["displayName"]);
		} catch (err) {
			thrown = err;
		}
		const { status, body } = toHttpError(thrown);
		expect(status).toBe(400);
		expect(body.error).toMatchObject({ code: "INVALID_INPUT", details: [{ field: "displayName" }] });
	});
});
