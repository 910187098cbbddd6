import { jsonBytes, leadingWithin, PageBudget } from "../../../lib/page-budget";

describe("PageBudget", () => {
	test("takes items while they fit, and always the first one unless allowEmpty", () => {
		const budget = new PageBudget(100);
		expect([budget.take(150), budget.take(1)]).toEqual([true, false]);
		const room = new PageBudget(100);
		expect([room.take(60), room.take(40), room.take(1)]).toEqual([true, true, false]);
		expect(room.bytes).toBe(100);
		expect(new PageBudget(100, true).take(150)).toBe(false);
	});

	test("sizes values as their UTF-8 JSON plus a separating comma", () => {
		expect(jsonBytes({ a: "é" })).toBe(Buffer.byteLength('{"a":"é"}') + 1);
		expect(jsonBytes("\u0001")).toBe('"\\u0001"'.length + 1);
	});

	test("leadingWithin cuts a list to the items that fit, at least one", () => {
		const items = ["a".repeat(40), "b".repeat(40), "c".repeat(40)];
		expect(leadingWithin(items, 90)).toEqual(items.slice(0, 2));
		expect(leadingWithin(items, 1)).toEqual(items.slice(0, 1));
		expect(leadingWithin([], 1)).toEqual([]);
	});
});
