import fc from "fast-check";

/**
 * fast-check arbitraries for hostile input: strings with NUL bytes, lone surrogates and control
 * characters, numbers at and past every limit, nesting around and far beyond JSON_MAX_DEPTH,
 * keys that mean something to JavaScript or Moleculer, and whole bodies that are not JSON.
 */

/** JSON text placed as it is, for what JSON.stringify cannot write (deep nesting, 1e400, 30-digit integers). */
export class RawJson {
	constructor(readonly text: string) {}
}

/** JSON text of a value that may hold RawJson pieces; undefined members are left out as JSON.stringify does. */
export function jsonText(value: unknown): string {
	if (value instanceof RawJson) return value.text;
	if (Array.isArray(value)) return `[${value.map(item => (item === undefined ? "null" : jsonText(item))).join(",")}]`;
	if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value)) {
		const record = value as Record<string, unknown>;
		const members = Object.keys(record)
			.filter(key => record[key] !== undefined)
			.map(key => `${JSON.stringify(key)}:${jsonText(record[key])}`);
		return `{${members.join(",")}}`;
	}
	return JSON.stringify(value) ?? "null";
}

const SPECIAL_STRINGS = [
	"",
	" ",
	"  padded  ",
	"\u0000",
	"a\u0000b",
	"\ud800",
	"\udfff",
	"a\ud83d",
	"\ud83d\ude00",
	"🙂",
	"e\u0301",
	"\u202e",
	"\ufeff",
	"\t",
	"\r\n",
	"%",
	"%00",
	"../",
	"..%2f",
	"__proto__",
	"constructor",
	"null",
	"undefined",
	"NaN",
	"Infinity",
	"0x10",
	"1e309",
	"-1",
	" 1",
	"1 ",
	"01",
	"'; DROP TABLE users; --",
	'" OR 1=1 --',
	"<script>alert(1)</script>",
	"${7*7}",
	"{{7*7}}",
	"\\",
	"\\u0000",
	"world",
	"group_",
	"single__",
	"a".repeat(64),
	"a".repeat(65),
	"a".repeat(257),
	"Ω".repeat(64),
	"🙂".repeat(33)
];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map(code => String.fromCharCode(code));
const control = fc.integer({ min: 0, max: 0x1f }).map(code => String.fromCharCode(code));
const asciiChar = fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 });

/** Strings a parser, a validator, a collation or a byte counter might choke on; now and then a huge one. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
	{ weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
	{ weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
	{ weight: 2, arbitrary: fc.string({ unit: fc.oneof(loneSurrogate, control, asciiChar), maxLength: 20 }) },
	{ weight: 4, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
	{
		weight: 1,
		arbitrary: fc
			.tuple(fc.constantFrom("x", "é", "🙂", "\u0000", " "), fc.integer({ min: 60, max: 120_000 }))
			.map(([unit, n]) => unit.repeat(n))
	}
);

/** Numbers at the edges: integer limits, float extremes, -0, fractions (NaN and ±Infinity become null in JSON). */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
	fc.integer(),
	fc.double(),
	fc.constantFrom(
		0,
		-0,
		-1,
		1,
		0.5,
		1000,
		1001,
		2 ** 31 - 1,
		2 ** 31,
		2 ** 32,
		2 ** 53 - 1,
		2 ** 53,
		2 ** 53 + 2,
		2 ** 63,
		2 ** 64,
		1e21,
		1e308,
		-1e308,
		Number.MIN_VALUE,
		Number.EPSILON
	)
);

/** Number literals JSON allows but JavaScript cannot hold exactly. */
export const rawNumber: fc.Arbitrary<RawJson> = fc
	.constantFrom(
		"1e400",
		"-1e400",
		"-0",
		"1.0",
		"1E2",
		"123456789012345678901234567890",
		"0.000000000000000000001",
		"18446744073709551616"
	)
	.map(text => new RawJson(text));

/** Strings that look like IDs and are not quite, and some that are but name nothing. */
export const idLike: fc.Arbitrary<string> = fc.oneof(
	fc.stringMatching(/^-?\d{0,25}$/),
	fc.constantFrom(
		"0",
		"1",
		"00",
		"01",
		"-0",
		"+1",
		"1.0",
		"1e3",
		" 1",
		"18446744073709551615",
		"99999999999999999999",
		"999999999999999999999"
	)
);

/** Keys that mean something to JavaScript, Moleculer, fastest-validator or qs. */
export const nastyKey: fc.Arbitrary<string> = fc.oneof(
	fc.constantFrom(
		"__proto__",
		"constructor",
		"prototype",
		"toString",
		"valueOf",
		"hasOwnProperty",
		"toJSON",
		"$$strict",
		"$$root",
		"$params",
		"$statusCode",
		"$responseHeaders",
		"",
		" ",
		"a.b",
		"a[b]",
		"\u0000",
		"length"
	),
	fc.string({ maxLength: 12 })
);

export const nastyLeaf: fc.Arbitrary<unknown> = fc.oneof(
	{ weight: 4, arbitrary: nastyString },
	{ weight: 2, arbitrary: nastyNumber },
	{ weight: 1, arbitrary: fc.boolean() },
	{ weight: 1, arbitrary: fc.constant(null) },
	{ weight: 2, arbitrary: idLike }
);

/** Any JSON value with the given keys and leaves, up to a few levels. */
export function anyValue(keys: fc.Arbitrary<string>, leaf: fc.Arbitrary<unknown> = nastyLeaf): fc.Arbitrary<unknown> {
	return fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown> }>(tie => ({
		value: fc.oneof({ depthSize: "small", maxDepth: 4 }, leaf, tie("array"), tie("object")),
		array: fc.array(tie("value"), { maxLength: 4 }),
		object: fc.dictionary(keys, tie("value"), { maxKeys: 4 })
	})).value;
}

/** Depths around JSON_MAX_DEPTH (10 by default) and far past it. */
export const nestingDepth = fc.constantFrom(9, 10, 11, 12, 20, 100, 1000, 10_000);

/** Nesting as JSON text, which costs the test nothing to write however deep. */
export const deepJson: fc.Arbitrary<RawJson> = fc
	.tuple(nestingDepth, fc.boolean())
	.map(
		([depth, arrays]) =>
			new RawJson(
				arrays ? `${"[".repeat(depth)}1${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`
			)
	);

/** Nesting as a real value, for socket payloads (serialised by the client). */
export const deepValue: fc.Arbitrary<unknown> = fc
	.tuple(fc.constantFrom(9, 10, 11, 12, 50, 500, 2000), fc.boolean())
	.map(([depth, arrays]) => {
		let value: unknown = 1;
		for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value };
		return value;
	});

/** Bodies that are not a JSON object: other JSON types, broken JSON, nothing, deep nesting at the top. */
export const rawBody: fc.Arbitrary<string> = fc.oneof(
	fc.constantFrom(
		"",
		" ",
		"null",
		"[]",
		"[1,2]",
		'"text"',
		"42",
		"true",
		"{",
		'{"a":',
		"{'a':1}",
		'{"a":1,}',
		"{a:1}",
		'{"a":1}{"b":2}',
		"\u0000",
		'{"a":"\\ud800"}',
		'{"__proto__":{"admin":true}}',
		"\ufeff{}"
	),
	deepJson.map(raw => raw.text),
	nastyString
);

/**
 * A field's value: mostly valid, so that most requests get past validation and reach the code
 * behind it (and some are accepted and store something), otherwise hostile.
 */
const validOrNot = (valid: fc.Arbitrary<unknown>, hostile: fc.Arbitrary<unknown>) =>
	fc.oneof(
		{ weight: 24, arbitrary: valid },
		{ weight: 2, arbitrary: hostile },
		{ weight: 1, arbitrary: fc.constant(null) },
		{ weight: 1, arbitrary: fc.constant(undefined) }
	);

/** Present in about one input of four. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>) =>
	fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

export type Body = { kind: "none" } | { kind: "json"; value: unknown } | { kind: "text"; text: string };

/**
 * A body for a route with these fields: usually an object whose fields are valid or hostile,
 * plus unknown and deeply nested extra fields; sometimes no object at all.
 */
export function bodyFor(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Body> {
	const keys = fc.oneof(fc.constantFrom(...Object.keys(fields), "extra"), nastyKey);
	const hostile = fc.oneof(
		{ weight: 5, arbitrary: anyValue(keys) },
		{ weight: 1, arbitrary: rawNumber },
		{ weight: 1, arbitrary: deepJson }
	);
	const known = fc.record(
		Object.fromEntries(Object.entries(fields).map(([name, valid]) => [name, validOrNot(valid, hostile)])),
		{ requiredKeys: [] }
	);
	const extras = sometimes(fc.dictionary(keys, hostile, { maxKeys: 3 }));
	const object = fc.tuple(known, extras).map(([fieldsPart, extra]) => {
		const value: Record<string, unknown> = { ...fieldsPart };
		// defineProperty, so an own "__proto__" key stays a key and does not become the prototype.
		for (const [key, item] of Object.entries(extra ?? {}))
			Object.defineProperty(value, key, { value: item, enumerable: true, writable: true, configurable: true });
		return value;
	});
	return fc.oneof(
		{ weight: 12, arbitrary: object.map((value): Body => ({ kind: "json", value })) },
		{ weight: 1, arbitrary: anyValue(keys).map((value): Body => ({ kind: "json", value })) },
		{ weight: 1, arbitrary: rawBody.map((text): Body => ({ kind: "text", text })) },
		{ weight: 1, arbitrary: fc.constant<Body>({ kind: "none" }) }
	);
}

export function bodyText(body: Body): string | undefined {
	if (body.kind === "none") return undefined;
	return body.kind === "text" ? body.text : jsonText(body.value);
}

/** Content types: almost always JSON, sometimes what the server must refuse or decode. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
	{ weight: 30, arbitrary: fc.constant("application/json") },
	{
		weight: 1,
		arbitrary: fc.constantFrom(
			"application/json; charset=utf-8",
			"application/json; charset=latin1",
			"application/json; charset=utf-16",
			"APPLICATION/JSON",
			'application/json;charset="utf-8"'
		)
	},
	{
		weight: 1,
		arbitrary: fc.constantFrom(
			undefined,
			"",
			"text/plain",
			"application/x-www-form-urlencoded",
			"application/vnd.api+json",
			"multipart/form-data; boundary=x",
			"application/json; charset=klingon"
		)
	}
);

/** Percent-encoding of any string: a lone surrogate, which encodeURIComponent refuses, as the three bytes a sloppy encoder would send. */
export function encodeAny(text: string): string {
	let out = "";
	for (const char of text) {
		const code = char.charCodeAt(0);
		if (char.length === 1 && code >= 0xd800 && code <= 0xdfff) {
			out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
				.map(b => `%${b.toString(16).toUpperCase()}`)
				.join("");
		} else {
			out += encodeURIComponent(char);
		}
	}
	return out;
}

/** Path segments: encoded hostile strings, or escapes that are broken as URL encoding. */
export const nastySegment: fc.Arbitrary<string> = fc.oneof(
	nastyString.filter(s => s.length < 3000).map(encodeAny),
	fc.constantFrom(
		"%",
		"%zz",
		"%E0%A4%A",
		"%00",
		"..",
		".",
		"%2e%2e",
		"%2F",
		"a%2Fb",
		"%u0041",
		"+",
		"%20",
		"%C0%AF",
		"%ED%A0%80",
		"%FF",
		"%EF%BF%BF"
	)
);

/** A path parameter: mostly one of the IDs that exist, otherwise hostile. */
export const pathParam = (valid: fc.Arbitrary<string>) =>
	fc.oneof(
		{ weight: 8, arbitrary: valid },
		{ weight: 1, arbitrary: idLike.map(encodeAny) },
		{ weight: 1, arbitrary: nastySegment }
	);

function queryPart(key: string, value: string, how: string): string {
	const k = encodeAny(key);
	switch (how) {
		case "array":
			return `${k}[]=${encodeAny(value)}`;
		case "object":
			return `${k}[a][b]=${encodeAny(value)}`;
		case "bare":
			return k;
		// Printable ASCII as it is (so "%", "&", "=" and "+" keep their meaning to the parser), the rest encoded.
		case "raw":
			return `${k}=${[...value].map(c => (/^[\x21-\x7e]$/.test(c) && c !== "#" ? c : encodeAny(c))).join("")}`;
		default:
			return `${k}=${encodeAny(value)}`;
	}
}

/**
 * A query string with the route's parameters and others, in qs's spellings too: repeated keys
 * (arrays), `k[]=`, `k[a][b]=` (objects), a key without `=`.
 */
export function queryFor(params: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
	const names = Object.keys(params);
	const key =
		names.length > 0
			? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: nastyKey })
			: nastyKey;
	const value = fc.oneof(
		{ weight: 3, arbitrary: fc.oneof(...(names.length > 0 ? Object.values(params) : [fc.constant("1")])) },
		{ weight: 2, arbitrary: nastyString.filter(s => s.length < 3000) },
		{ weight: 1, arbitrary: nastyNumber.map(String) }
	);
	const style = fc.constantFrom("plain", "plain", "plain", "array", "object", "bare", "raw");
	const part = fc.tuple(key, value, style).map(([k, v, how]) => queryPart(k, v, how));
	// Each known parameter once, valid or not, then hostile extras and repeats.
	const known = names.map(name =>
		fc.oneof(
			{ weight: 4, arbitrary: params[name].map(v => `${encodeAny(name)}=${encodeAny(v)}`) },
			{ weight: 1, arbitrary: fc.constant("") },
			{ weight: 1, arbitrary: fc.tuple(value, style).map(([v, how]) => queryPart(name, v, how)) }
		)
	);
	return fc
		.tuple(
			fc.tuple(...known),
			fc.oneof(
				{ weight: 2, arbitrary: fc.constant<string[]>([]) },
				{ weight: 1, arbitrary: fc.array(part, { maxLength: 4 }) }
			)
		)
		.map(([first, extra]) => {
			const parts = [...first, ...extra].filter(p => p !== "");
			return parts.length > 0 ? `?${parts.join("&")}` : "";
		});
}

/** Arguments of a socket event: a payload of any shape, binary, deep, or none at all, or several. */
export function socketArguments(payload: fc.Arbitrary<unknown>): fc.Arbitrary<unknown[]> {
	const any = anyValue(nastyKey);
	const argument = fc.oneof(
		{ weight: 6, arbitrary: payload },
		{ weight: 2, arbitrary: any },
		{ weight: 1, arbitrary: deepValue },
		{ weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map(bytes => Buffer.from(bytes)) }
	);
	return fc.oneof(
		{ weight: 6, arbitrary: argument.map(one => [one]) },
		{ weight: 1, arbitrary: fc.constant<unknown[]>([]) },
		{ weight: 1, arbitrary: fc.array(argument, { minLength: 2, maxLength: 3 }) }
	);
}

/** An object of these fields, each valid or hostile, plus the odd extra and deep field. */
export function payloadFor(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
	const keys = fc.oneof(fc.constantFrom(...Object.keys(fields), "extra"), nastyKey);
	const hostile = fc.oneof({ weight: 5, arbitrary: anyValue(keys) }, { weight: 1, arbitrary: deepValue });
	const known = fc.record(
		Object.fromEntries(Object.entries(fields).map(([name, valid]) => [name, validOrNot(valid, hostile)])),
		{ requiredKeys: [] }
	);
	return fc.tuple(known, sometimes(fc.dictionary(keys, hostile, { maxKeys: 2 }))).map(([fieldsPart, extra]) => {
		const value: Record<string, unknown> = { ...fieldsPart };
		for (const [key, item] of Object.entries(extra ?? {}))
			Object.defineProperty(value, key, { value: item, enumerable: true, writable: true, configurable: true });
		return value;
	});
}
