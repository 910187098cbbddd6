import type { Message } from "../types";
import type { StateStore } from "./state-store";

/**
 * The newest messages of each conversation (seed 004: 300, by seq), so history and sync near the
 * end of a conversation read no message rows. Per conversation one sorted set scored by seq.
 *
 * The cache is never trusted on its own (DECISIONS §4): every read names the conversation's last
 * seq from SQL, and a page is served only when the set holds every seq the page needs. Seqs are
 * gap-free and messages never change, so "all the seqs are there" proves the page complete; a
 * set that was flushed, evicted or restored from an old snapshot just misses, and the reader
 * repairs it from SQL.
 */
export interface HotPage {
	messages: Message[];
	hasMore: boolean;
}

export interface HotQuery {
	beforeSeq?: number;
	afterSeq?: number;
	limit: number;
}

/** Keys expire after a day without writes: idle conversations leave the store. */
const TTL_SECONDS = 24 * 3600;

/** Every key of the cache starts so; the in-memory store may evict these, and only these (LRU). */
export const HOT_CACHE_PREFIX = "hot:";
const key = (conversationId: string) => HOT_CACHE_PREFIX + conversationId;

export class HotMessageCache {
	hits = 0;
	misses = 0;

	constructor(private readonly store: StateStore, readonly size: number) {}

	get enabled(): boolean {
		return this.size > 0;
	}

	/** Adds stored messages (any conversations, any order) and keeps each set at the newest `size`. */
	async add(messages: Message[]): Promise<void> {
		if (!this.enabled || messages.length === 0) return;
		const byConversation = new Map<string, Message[]>();
		for (const m of messages) {
			const list = byConversation.get(m.conversationId);
			if (list) list.push(m);
			else byConversation.set(m.conversationId, [m]);
		}
		await Promise.all([...byConversation].map(async ([conversationId, list]) => {
			await this.store.zadd(key(conversationId), list.map(m => [m.seq, JSON.stringify(m)]));
			await this.store.ztrimToNewest(key(conversationId), this.size);
			await this.store.expire(key(conversationId), TTL_SECONDS);
		}));
	}

	/** Whether a page ending at `upperSeq` lies in the window the cache is meant to hold. */
	covers(lastSeq: number, upperSeq: number): boolean {
		return this.enabled && upperSeq > lastSeq - this.size;
	}

	/**
	 * The page, or null when the set lacks a seq the page needs (a miss). `lastSeq` is the
	 * conversation's last seq as SQL has it now.
	 */
	async read(conversationId: string, query: HotQuery, lastSeq: number): Promise<HotPage | null> {
		const page = this.enabled ? await this.tryRead(conversationId, query, lastSeq) : null;
		if (page) this.hits++;
		else this.misses++;
		return page;
	}

	private async tryRead(conversationId: string, { beforeSeq, afterSeq, limit }: HotQuery, lastSeq: number): Promise<HotPage | null> {
		const upper = Math.min(lastSeq, beforeSeq !== undefined ? beforeSeq - 1 : lastSeq);
		if (afterSeq !== undefined) {
			const last = Math.min(upper, afterSeq + limit);
			if (last <= afterSeq) return { messages: [], hasMore: false };
			const messages = await this.contiguous(conversationId, afterSeq + 1, last);
			return messages && { messages, hasMore: last < upper };
		}
		if (upper < 1) return { messages: [], hasMore: false };
		const first = Math.max(1, upper - limit + 1);
		const messages = await this.contiguous(conversationId, first, upper);
		return messages && { messages, hasMore: first > 1 };
	}

	/** Messages with seq first..last, or null unless every one of them is in the set. */
	private async contiguous(conversationId: string, first: number, last: number): Promise<Message[] | null> {
		if (last - first + 1 > this.size) return null;
		const members = await this.store.zrangeByScore(key(conversationId), first, last);
		const messages: Message[] = [];
		for (const member of members) {
			const message = JSON.parse(member) as Message;
			// The same message can sit twice (written and refilled); keep one per seq.
			if (messages.length > 0 && messages[messages.length - 1].seq === message.seq) continue;
			if (message.seq !== first + messages.length) return null;
			messages.push(message);
		}
		return messages.length === last - first + 1 ? messages : null;
	}
}
