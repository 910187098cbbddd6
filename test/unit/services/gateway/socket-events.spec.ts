import jwt from "jsonwebtoken";
import { toHttpError } from "../../../../lib/errors";
import { objectPayload, splitArguments, tokenExpiresAt } from "../../../../services/gateway/socket-events";

describe("socket event arguments", () => {
	const ack = () => undefined;

	test("the ack is the last argument, whatever came before it", () => {
		expect(splitArguments([ack])).toEqual({ payload: {}, respond: ack });
		expect(splitArguments([])).toEqual({ payload: {}, respond: null });
		expect(splitArguments([null, ack])).toEqual({ payload: null, respond: ack });
		expect(splitArguments([{ a: 1 }, 7, "x", ack])).toEqual({ payload: { a: 1 }, respond: ack });
		expect(splitArguments([5])).toEqual({ payload: 5, respond: null });
	});

	test("a payload must be an object, nested no deeper than the limit", () => {
		for (const bad of [null, 5, "text", [1], Buffer.from("x")]) {
			expect(() => objectPayload(bad, 10)).toThrow("The event payload must be an object");
		}
		expect(objectPayload({ a: { b: 1 } }, 2)).toEqual({ a: { b: 1 } });
		let refused: unknown;
		try {
			objectPayload({ a: { b: {} } }, 2);
		} catch (err) {
			refused = err;
		}
		expect(toHttpError(refused)).toEqual({
			status: 400,
			body: { error: { code: "INVALID_INPUT", message: "The event payload is nested deeper than 2 levels" } }
		});
	});
});

describe("tokenExpiresAt", () => {
	test("reads the exp of a token in milliseconds", () => {
		const token = jwt.sign({ sid: "s" }, "x".repeat(32), { subject: "1", expiresIn: 60 });
		const { exp } = jwt.decode(token) as { exp: number };
		expect(tokenExpiresAt(token)).toBe(exp * 1000);
	});

	test("a token without exp, or not a JWT, has none", () => {
		expect(tokenExpiresAt(jwt.sign({ sid: "s" }, "x".repeat(32)))).toBeNull();
		expect(tokenExpiresAt("garbage")).toBeNull();
		expect(tokenExpiresAt("a.!!!.c")).toBeNull();
	});
});
