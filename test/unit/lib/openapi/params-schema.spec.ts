import Ajv2020 from "ajv/dist/2020";
import { paramsToShape, ruleToSchema } from "../../../../lib/openapi/params-schema";
import { idRule, pageLimitRule, seqRule } from "../../../../lib/validation";

describe("fastest-validator rules as JSON Schema", () => {
	test("strings keep their lengths and pattern, and the rule's messages describe them", () => {
		expect(ruleToSchema(idRule, "id")).toEqual({
			type: "string",
			pattern: "^(0|[1-9]\\d{0,19})$",
			description: "'id' must be an ID (a decimal string without leading zeros)"
		});
		expect(ruleToSchema({ type: "string", min: 1, max: 64 })).toEqual({
			type: "string",
			minLength: 1,
			maxLength: 64
		});
		expect(ruleToSchema({ type: "string", length: 3 })).toEqual({ type: "string", minLength: 3, maxLength: 3 });
	});

	test("a pattern that crossed the transporter as {} or has flags JSON Schema lacks is left out", () => {
		expect(ruleToSchema({ type: "string", pattern: {} })).toEqual({ type: "string" });
		expect(ruleToSchema({ type: "string", pattern: /^a$/i })).toEqual({ type: "string" });
		expect(ruleToSchema({ type: "string", pattern: /^\p{L}$/u })).toEqual({ type: "string", pattern: "^\\p{L}$" });
	});

	test("numbers: integer, bounds; shorthand strings expand", () => {
		expect(ruleToSchema(pageLimitRule(50))).toEqual({ type: "integer", minimum: 1, maximum: 50 });
		expect(ruleToSchema("number|positive")).toEqual({ type: "number", exclusiveMinimum: 0 });
		expect(ruleToSchema("string|min:3|optional")).toEqual({ type: "string", minLength: 3 });
		expect(ruleToSchema("boolean")).toEqual({ type: "boolean" });
	});

	test("enums, arrays and nested objects", () => {
		expect(ruleToSchema({ type: "enum", values: ["a", "b"] })).toEqual({ enum: ["a", "b"] });
		expect(ruleToSchema({ type: "array", items: "string", min: 1, max: 10 })).toEqual({
			type: "array",
			items: { type: "string" },
			minItems: 1,
			maxItems: 10
		});
		expect(
			ruleToSchema({
				type: "object",
				strict: true,
				props: { a: "number", b: { type: "string", optional: true } }
			})
		).toEqual({
			type: "object",
			properties: { a: { type: "number" }, b: { type: "string" } },
			required: ["a"],
			additionalProperties: false
		});
		expect(ruleToSchema({ type: "record", key: "string", value: "number" })).toEqual({
			type: "object",
			propertyNames: { type: "string" },
			additionalProperties: { type: "number" }
		});
		expect(ruleToSchema(["string", "number"])).toEqual({ anyOf: [{ type: "string" }, { type: "number" }] });
	});

	test("nullable adds null; defaults are kept", () => {
		expect(ruleToSchema({ type: "string", nullable: true })).toEqual({ type: ["string", "null"] });
		expect(ruleToSchema({ type: "enum", values: ["x"], nullable: true })).toEqual({ enum: ["x", null] });
		expect(ruleToSchema({ type: "number", default: 5 })).toEqual({ type: "number", default: 5 });
	});

	test("a params schema: required unless optional or defaulted, $$-options and forbidden fields left out", () => {
		const shape = paramsToShape({
			$$strict: true,
			id: idRule,
			seq: seqRule,
			limit: pageLimitRule(10),
			page: { type: "number", default: 1 },
			secret: { type: "forbidden" }
		});
		expect(Object.keys(shape.properties)).toEqual(["id", "seq", "limit", "page"]);
		expect(shape.required).toEqual(["id", "seq"]);
		expect(shape.converted).toEqual(["seq", "limit"]);
	});

	test("the schemas check what the rules check", () => {
		const ajv = new Ajv2020({ strict: false });
		const check = ajv.compile({ type: "object", ...paramsToShape({ id: idRule, seq: seqRule }) });
		expect(check({ id: "12", seq: 0 })).toBe(true);
		expect(check({ id: "012", seq: 0 })).toBe(false);
		expect(check({ id: "12", seq: -1 })).toBe(false);
		expect(check({ id: "12" })).toBe(false);
	});
});
