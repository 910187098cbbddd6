import type { Message } from "./types";

/** Bytes a value adds to a reply: its JSON in UTF-8 (the form it travels in) and a separating comma. */
export function jsonBytes(value: unknown): number {
	return Buffer.byteLength(JSON.stringify(value), "utf8") + 1;
}

export const messageBytes: (message: Message) => number = jsonBytes;

/**
 * The bytes one reply may still spend on messages (PAGE_MAX_BYTES). A page always takes its
 * first message, however large, so paging always moves on; unless `allowEmpty`, for a page that
 * joins others in one reply (a sync), where an oversized first message waits for the next reply.
 */
export class PageBudget {
	bytes = 0;
	count = 0;

	constructor(
		readonly maxBytes: number,
		readonly allowEmpty = false
	) {}

	/** Counts an item of `size` bytes if it still fits; false means the page ends before it. */
	take(size: number): boolean {
		const first = this.count === 0 && !this.allowEmpty;
		if (!first && this.bytes + size > this.maxBytes) return false;
		this.bytes += size;
		this.count++;
		return true;
	}
}

/** The leading items whose JSON fits in maxBytes (at least one): a page cut to its byte budget. */
export function leadingWithin<T>(items: T[], maxBytes: number): T[] {
	const budget = new PageBudget(maxBytes);
	const fitting: T[] = [];
	for (const item of items) {
		if (!budget.take(jsonBytes(item))) break;
		fitting.push(item);
	}
	return fitting;
}
