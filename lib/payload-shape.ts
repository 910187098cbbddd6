/**
 * The shape a client's input must have before any action sees it: nesting bounded (a deep value
 * overflows the stack wherever it is walked recursively, e.g. serialising for the transporter)
 * and only the fields the action declares.
 */

/** More than `maxDepth` levels of objects and arrays? Walks no deeper than that, so a hostile payload costs little. */
export function nestingExceeds(value: unknown, maxDepth: number): boolean {
	if (value === null || typeof value !== "object" || ArrayBuffer.isView(value)) return false;
	if (maxDepth <= 0) return true;
	for (const child of Array.isArray(value) ? value : Object.values(value)) {
		if (nestingExceeds(child, maxDepth - 1)) return true;
	}
	return false;
}

/** A fastest-validator params schema: field rules plus `$$`-options such as `$$strict`. */
export type ParamsSchema = Record<string, unknown>;

/**
 * The params keeping only the top-level fields `schema` declares. Keys starting with `$` never pass:
 * Moleculer and its gateways give such keys meanings of their own. An action without a schema
 * gets nothing; one validated as a whole (`$$root`) gets everything but `$`-keys.
 */
export function declaredFieldsOnly(
	params: Record<string, unknown>,
	schema: ParamsSchema | undefined
): Record<string, unknown> {
	const kept: Record<string, unknown> = {};
	const everything = schema?.$$root === true;
	for (const [key, value] of Object.entries(params)) {
		if (key.startsWith("$")) continue;
		if (everything || (schema && Object.prototype.hasOwnProperty.call(schema, key))) kept[key] = value;
	}
	return kept;
}
