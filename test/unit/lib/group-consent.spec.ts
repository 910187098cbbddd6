import { refusalReason, requireSomeoneAllowed, screenCandidates } from "../../../lib/group-consent";
import { toHttpError } from "../../../lib/errors";
import type { GroupAddPolicy } from "../../../lib/types";

const candidate = (userId: string, policy: GroupAddPolicy, blocked = false, contact = false) => ({
	userId,
	policy,
	blocked,
	contact
});

describe("group consent", () => {
	test.each([
		["everyone", false, false, null],
		["everyone", false, true, null],
		["contacts", false, true, null],
		["contacts", false, false, "policy"],
		["nobody", false, true, "policy"],
		["nobody", false, false, "policy"],
		["everyone", true, true, "blocked"],
		["contacts", true, true, "blocked"],
		["nobody", true, false, "blocked"]
	] as const)("policy %s, blocked %s, contact %s: %s", (policy, blocked, contact, expected) => {
		expect(refusalReason(candidate("1", policy, blocked, contact))).toBe(expected);
	});

	test("screening keeps the order and splits allowed from refused", () => {
		expect(
			screenCandidates([
				candidate("1", "everyone"),
				candidate("2", "nobody"),
				candidate("3", "contacts", false, true),
				candidate("4", "everyone", true)
			])
		).toEqual({
			allowed: ["1", "3"],
			refused: [
				{ userId: "2", reason: "policy" },
				{ userId: "4", reason: "blocked" }
			]
		});
	});

	test("a request that would add nobody because all refused is a 403 naming them", () => {
		const refused = [{ userId: "2", reason: "policy" as const }];
		let thrown: unknown;
		try {
			requireSomeoneAllowed([], refused);
		} catch (err) {
			thrown = err;
		}
		expect(toHttpError(thrown)).toEqual({
			status: 403,
			body: { error: { code: "FORBIDDEN", message: expect.any(String), details: { refused } } }
		});
	});

	test("a request that adds someone, or refused nobody, goes on", () => {
		expect(() => requireSomeoneAllowed(["1"], [{ userId: "2", reason: "policy" }])).not.toThrow();
		expect(() => requireSomeoneAllowed([], [])).not.toThrow();
	});
});
