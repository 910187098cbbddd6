import { DISPLAY_NAME_MAX } from "./auth-rules";
import { fail } from "./errors";

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
	// An unpaired surrogate would be stored as U+FFFD, so the name read back would differ from the one sent.
	pattern: /^[^\p{Cc}\p{Cs}]*$/u,
	messages: { stringPattern: "'{field}' must not contain control characters or unpaired surrogates" }
};

/** http(s) only, at most the column's 512 characters, no spaces or control characters anywhere in it. */
export const avatarUrlRule = {
	type: "string",
	max: 512,
	pattern: /^https?:\/\/[^\s\p{Cc}\p{Cs}]+$/u,
	messages: { stringPattern: "'{field}' must be an http(s) URL without spaces or control characters" }
};

/**
 * The key a resend is recognised by, compared exactly alike on SQLite and MariaDB: no control
 * characters (a NUL cut SQLite's statement short), no unpaired surrogates (stored as U+FFFD, two
 * keys would become one), no whitespace at either end (PAD collations ignore trailing spaces).
 */
export const clientMsgIdRule = {
	type: "string",
	min: 1,
	max: 64,
	pattern: /^(?!\s)[^\p{Cc}\p{Cs}]*(?<!\s)$/u,
	messages: {
		stringPattern:
			"'{field}' must not contain control characters or unpaired surrogates, nor start or end with whitespace"
	}
};

/** Message text: any characters but NUL (SQLite cannot take it in a statement) and unpaired surrogates. */
export const messageContentRule = {
	type: "string",
	min: 1,
	// NUL is the point of this pattern.
	// eslint-disable-next-line no-control-regex
	pattern: /^[^\u0000\p{Cs}]*$/u,
	messages: { stringPattern: "'{field}' must not contain NUL characters or unpaired surrogates" }
};

export const conversationIdRule = { type: "string", min: 1, max: 64 };

export const seqRule = { type: "number", integer: true, min: 0, convert: true };

export const pageLimitRule = (max: number) => ({
	type: "number",
	integer: true,
	min: 1,
	max,
	convert: true,
	optional: true
});

/** fastest-validator lets null through every optional field; where null means nothing, refuse it as the validator would. */
export function refuseNull(params: object, fields: string[]): void {
	const field = fields.find(name => (params as Record<string, unknown>)[name] === null);
	if (field) {
		const message = `'${field}' cannot be null`;
		fail("INVALID_INPUT", message, [{ field, type: "required", message }]);
	}
}

/** fastest-validator's own enum message prints the allowed values where the sent value should be. */
export const enumRule = (values: readonly string[]) => ({
	type: "enum",
	values,
	messages: { enumValue: `'{field}' must be one of: ${values.join(", ")}` }
});
