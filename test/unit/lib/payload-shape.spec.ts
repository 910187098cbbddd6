import { declaredFieldsOnly, nestingExceeds } from "../../../lib/payload-shape";

describe("nestingExceeds", () => {
	const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });

	test("counts objects and arrays as levels; scalars are none", () => {
		expect(nestingExceeds("text", 0)).toBe(false);
		expect(nestingExceeds(null, 0)).toBe(false);
		expect(nestingExceeds({}, 0)).toBe(true);
		expect(nestingExceeds({}, 1)).toBe(false);
		expect(nestingExceeds(nested(10), 10)).toBe(false);
		expect(nestingExceeds(nested(11), 10)).toBe(true);
		expect(nestingExceeds([[[1]]], 3)).toBe(false);
		expect(nestingExceeds([[[[]]]], 3)).toBe(true);
	});

	test("finds a deep branch beside shallow ones", () => {
		expect(nestingExceeds({ a: 1, b: [1, 2], c: { d: { e: { f: {} } } } }, 4)).toBe(true);
	});

	test("a body of 100,000 nested arrays is refused without overflowing the stack", () => {
		const deep = JSON.parse("[".repeat(100_000) + "]".repeat(100_000));
		expect(nestingExceeds(deep, 10)).toBe(true);
		expect(() => JSON.stringify(deep)).toThrow(RangeError);
	});

	test("binary data is a leaf, not a million children", () => {
		expect(nestingExceeds({ file: Buffer.alloc(1_000_000) }, 1)).toBe(false);
	});
});

describe("declaredFieldsOnly", () => {
	const schema = { conversationId: "string", seq: { type: "number" }, $$strict: "remove" };

	test("keeps the declared fields and drops the rest", () => {
		expect(declaredFieldsOnly({ conversationId: "world", seq: 1, extra: { deep: true } }, schema)).toEqual({
			conversationId: "world",
			seq: 1
		});
	});

	test("never passes $-keys, even ones the schema names", () => {
		expect(declaredFieldsOnly({ $$strict: false, $params: { x: 1 }, $req: 1, seq: 2 }, schema)).toEqual({ seq: 2 });
	});

	test("an action without a schema gets nothing; a $$root schema everything but $-keys", () => {
		expect(declaredFieldsOnly({ a: 1 }, undefined)).toEqual({});
		expect(declaredFieldsOnly({ a: 1, $b: 2 }, { $$root: true, type: "object" })).toEqual({ a: 1 });
	});

	test("inherited names such as toString or __proto__ are not declared fields", () => {
		const params = JSON.parse('{"__proto__": {"polluted": true}, "toString": 1, "seq": 3}');
		const kept = declaredFieldsOnly(params, schema);
		expect(kept).toEqual({ seq: 3 });
		expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
	});
});
