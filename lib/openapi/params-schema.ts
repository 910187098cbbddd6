/**
 * fastest-validator rules (an action's declared `params`) as JSON Schema 2020-12, so the OpenAPI
 * document says what the validator checks. Options with no JSON Schema counterpart (trim, convert)
 * are left out or told in the description.
 */

export type JsonSchema = { [keyword: string]: unknown };

type Rule = string | { type?: string; [option: string]: unknown } | readonly Rule[];

/** The fields of a params schema as object properties, which of them are required, and which convert strings to numbers. */
export interface ObjectShape {
	properties: Record<string, JsonSchema>;
	required: string[];
	converted: string[];
}

/** "string|min:3|optional" → {type: "string", min: 3, optional: true}. */
function expandShorthand(rule: string): Record<string, unknown> {
	const [type, ...options] = rule.split("|");
	const expanded: Record<string, unknown> = { type: type.trim() };
	for (const option of options) {
		const [key, value] = option.split(":").map(part => part.trim());
		if (value === undefined) expanded[key] = true;
		else if (value === "true" || value === "false") expanded[key] = value === "true";
		else expanded[key] = Number.isNaN(Number(value)) ? value : Number(value);
	}
	return expanded;
}

function normalize(rule: Rule): Record<string, unknown> | readonly Rule[] {
	if (typeof rule === "string") return expandShorthand(rule);
	return rule;
}

/** Optional fields may be left out; fastest-validator also treats a field with a default so. */
export function isOptional(rule: Rule): boolean {
	const r = normalize(rule);
	if (Array.isArray(r)) return r.every(isOptional);
	const options = r as Record<string, unknown>;
	return options.optional === true || options.default !== undefined;
}

/**
 * A rule's pattern as JSON Schema's ECMA-262 `pattern`. A remote action's RegExp arrived as `{}` (its
 * schema crossed the transporter as JSON) and flags other than `u` have no counterpart: both are left out.
 */
function patternOf(pattern: unknown): string | undefined {
	if (typeof pattern === "string") return pattern;
	if (pattern instanceof RegExp && /^u?$/.test(pattern.flags)) return pattern.source;
	return undefined;
}

/** The rule's own messages say what it wants in words: the best description there is. */
function describe(options: Record<string, unknown>, field: string | undefined): string | undefined {
	const messages = options.messages as Record<string, unknown> | undefined;
	if (!messages) return undefined;
	const texts = [...new Set(Object.values(messages).filter(m => typeof m === "string") as string[])];
	if (texts.length === 0) return undefined;
	return texts.map(text => text.replace(/\{field\}/g, field ?? "value")).join(" ");
}

function withNull(schema: JsonSchema): JsonSchema {
	if (Array.isArray(schema.enum)) return { ...schema, enum: [...schema.enum, null] };
	if (typeof schema.type === "string") return { ...schema, type: [schema.type, "null"] };
	return { anyOf: [schema, { type: "null" }] };
}

function setIf(schema: JsonSchema, keyword: string, value: unknown): void {
	if (value !== undefined) schema[keyword] = value;
}

function stringSchema(o: Record<string, unknown>): JsonSchema {
	const schema: JsonSchema = { type: "string" };
	setIf(schema, "minLength", o.length ?? o.min ?? (o.empty === false ? 1 : undefined));
	setIf(schema, "maxLength", o.length ?? o.max);
	setIf(schema, "pattern", patternOf(o.pattern));
	if (Array.isArray(o.enum)) schema.enum = o.enum;
	return schema;
}

function numberSchema(o: Record<string, unknown>): JsonSchema {
	const schema: JsonSchema = { type: o.integer === true ? "integer" : "number" };
	setIf(schema, "minimum", o.min);
	setIf(schema, "maximum", o.max);
	setIf(schema, "const", o.equal);
	if (o.positive === true) schema.exclusiveMinimum = 0;
	if (o.negative === true) schema.exclusiveMaximum = 0;
	return schema;
}

function arraySchema(o: Record<string, unknown>): JsonSchema {
	const schema: JsonSchema = { type: "array" };
	if (o.items !== undefined) schema.items = ruleToSchema(o.items as Rule);
	setIf(schema, "minItems", o.length ?? o.min ?? (o.empty === false ? 1 : undefined));
	setIf(schema, "maxItems", o.length ?? o.max);
	if (o.unique === true) schema.uniqueItems = true;
	return schema;
}

function objectSchema(o: Record<string, unknown>): JsonSchema {
	const props = (o.props ?? o.properties) as Record<string, Rule> | undefined;
	const schema: JsonSchema = { type: "object" };
	if (props) {
		const shape = paramsToShape(props);
		schema.properties = shape.properties;
		if (shape.required.length > 0) schema.required = shape.required;
	}
	if (o.strict === true) schema.additionalProperties = false;
	return schema;
}

function typedSchema(o: Record<string, unknown>): JsonSchema {
	switch (o.type) {
		case "string":
			return stringSchema(o);
		case "number":
			return numberSchema(o);
		case "boolean":
			return { type: "boolean" };
		case "enum":
			return { enum: o.values };
		case "array":
			return arraySchema(o);
		case "object":
			return objectSchema(o);
		case "record":
			return {
				type: "object",
				...(o.key ? { propertyNames: ruleToSchema(o.key as Rule) } : {}),
				...(o.value ? { additionalProperties: ruleToSchema(o.value as Rule) } : {})
			};
		case "email":
			return { type: "string", format: "email" };
		case "url":
			return { type: "string", format: "uri" };
		case "uuid":
			return { type: "string", format: "uuid" };
		case "date":
			return { type: "string", format: "date-time" };
		case "equal":
			return { const: o.value };
		case "multi":
			return { anyOf: ((o.rules ?? []) as Rule[]).map(rule => ruleToSchema(rule)) };
		case "any":
			return {};
		default:
			// A custom rule: the document cannot say more than that something is checked.
			return { description: `Checked by the server's "${String(o.type)}" rule.` };
	}
}

/** One fastest-validator rule as a JSON Schema; `field` names it in the messages it carries. */
export function ruleToSchema(rule: Rule, field?: string): JsonSchema {
	const r = normalize(rule);
	if (Array.isArray(r)) return { anyOf: r.map(alternative => ruleToSchema(alternative, field)) };
	const o = r as Record<string, unknown>;
	let schema = typedSchema(o);
	if (o.nullable === true) schema = withNull(schema);
	setIf(schema, "default", typeof o.default === "function" ? undefined : o.default);
	const words = describe(o, field);
	if (words) schema.description = [schema.description, words].filter(Boolean).join(" ");
	return schema;
}

/** A params schema's fields ($$-options and forbidden fields left out) as properties and required names. */
export function paramsToShape(params: Record<string, unknown>): ObjectShape {
	const shape: ObjectShape = { properties: {}, required: [], converted: [] };
	for (const [name, rule] of Object.entries(params)) {
		if (name.startsWith("$$") || rule === undefined || rule === null) continue;
		if (typeof rule === "object" && !Array.isArray(rule) && (rule as { type?: unknown }).type === "forbidden")
			continue;
		shape.properties[name] = ruleToSchema(rule as Rule, name);
		if (!isOptional(rule as Rule)) shape.required.push(name);
		if ((normalize(rule as Rule) as { convert?: unknown }).convert === true) shape.converted.push(name);
	}
	return shape;
}
