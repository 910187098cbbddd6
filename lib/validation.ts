import { DISPLAY_NAME_MAX } from "./auth-rules";

/** Parameter rules (fastest-validator) that several actions share. */

export const idRule = {
	type: "string",
	pattern: /^\d{1,20}$/,
	messages: { stringPattern: "'{field}' must be an ID (a decimal string)" }
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
