import { fail } from "./errors";

/**
 * Cursors of the paged reads, opaque to clients: base64url of where a page ended. Opaque, so the
 * form can change; never empty, so `if (cursor)` in a client cannot end a walk early.
 */

/** Longest cursor a client may send back: a position holds an ISO time and an ID of ≤ 64 characters. */
export const CURSOR_MAX_LENGTH = 200;

export const cursorRule = { type: "string", min: 1, max: CURSOR_MAX_LENGTH, optional: true };

function encode(position: unknown[]): string {
	return Buffer.from(JSON.stringify(position), "utf8").toString("base64url");
}

function decode(cursor: string): unknown[] {
	try {
		const position: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
		if (Array.isArray(position)) return position;
	} catch {
		// Falls through to the refusal below.
	}
	return invalid();
}

function invalid(): never {
	fail("INVALID_INPUT", "'cursor' must be a nextCursor from an earlier answer");
}

const isId = (value: unknown): value is string => typeof value === "string" && value.length <= 64;

/** A sync walks conversations in ID order: it goes on after `conversationId` ("" starts from the first). */
export function syncCursor(afterConversationId: string): string {
	return encode(["s", afterConversationId]);
}

export function parseSyncCursor(cursor: string): string {
	const [kind, after] = decode(cursor);
	return kind === "s" && isId(after) ? after : invalid();
}

/** The conversation list goes by activity: it goes on after this (updatedAt, id), newest first. */
export function activityCursor(updatedAt: string, conversationId: string): string {
	return encode(["a", updatedAt, conversationId]);
}

export function parseActivityCursor(cursor: string): { updatedAt: string; id: string } {
	const [kind, updatedAt, id] = decode(cursor);
	const valid = kind === "a" && typeof updatedAt === "string" && !Number.isNaN(Date.parse(updatedAt)) && isId(id);
	return valid ? { updatedAt: new Date(updatedAt).toISOString(), id } : invalid();
}
