import { DISPLAY_NAME_MAX } from "./auth-rules";

/** Parameter rules (fastest-validator) that several actions share. */

/**
 * IDs in their one spelling: MariaDB compares BIGINT columns as numbers, so "0123" would reach
 * row 123 there while SQLite (IDs as text) finds nothing. Refusing leading zeros makes both agree.
 */
export const idRule = {
	type: "string",
	pattern: /^(0|[1-9]\d{0,19})$/,
	messages: { stringPattern: "'{field}' must be an ID (a decimal string without leading zeros)" }
};

export const idListRule = (max: number) => ({
	type: "array",
	items: idRule,
	max,
	messages: { arrayMax: `'{field}' may list at most ${max} IDs` }
});

export const displayNameRule = {
	type: "string",
	trim: true,
	min: 1,
	max: DISPLAY_NAME_MAX,
	pattern: /^[^\p{Cc}]*$/u,
	messages: { stringPattern: "'{field}' must not contain control characters" }
};

export const conversationIdRule = { type: "string", min: 1, max: 64 };

export const seqRule = { type: "number", integer: true, min: 0, convert: true };

export const pageLimitRule = (max: number) => ({ type: "number", integer: true, min: 1, max, convert: true, optional: true });

/** fastest-validator's own enum message prints the allowed values where the sent value should be. */
export const enumRule = (values: readonly string[]) => ({
	type: "enum",
	values,
	messages: { enumValue: `'{field}' must be one of: ${values.join(", ")}` }
});
