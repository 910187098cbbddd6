import { PageBudget } from "../page-budget";
import type { Message } from "../types";
import type { StateStore } from "./state-store";

/**
 * The newest messages of each conversation (HOT_CACHE_SIZE of them, by seq), so history and sync
 * near the end of a conversation read no message rows. Per conversation one sorted set scored by seq.
 *
 * The cache is never trusted on its own (SQL is the truth): every read names the conversation's
 * last seq from SQL, and a page is served only when the set holds every seq the page needs. Seqs are
 * gap-free and messages never change, so "all the seqs are there" proves the page complete; a
 * set that was flushed, evicted or restored from an old snapshot just misses, and the reader
 * repairs it from SQL.
 */
export interface HotPage {
	messages: Message[];
	hasMore: boolean;
	/** The page's size as its messages' JSON (see PageBudget). */
	bytes: number;
}

export interface HotQuery {
	beforeSeq?: number;
	afterSeq?: number;
	limit: number;
	/** Fewer messages, hasMore true, past this many bytes (PageBudget). */
	maxBytes?: number;
	allowEmpty?: boolean;
}

const empty = (): HotPage => ({ messages: [], hasMore: false, bytes: 0 });

/** Keys expire after a day without writes: idle conversations leave the store. */
const TTL_SECONDS = 24 * 3600;

/** Every key of the cache starts so; the in-memory store may evict these, and only these (LRU). */
export const HOT_CACHE_PREFIX = "hot:";
const key = (conversationId: string) => HOT_CACHE_PREFIX + conversationId;

export interface HotCacheCounters {
	hits: number;
	misses: number;
}

export class HotMessageCache {
	/** Reads served from the cache and reads that had to go to SQL, since this process started. */
	hits = 0;
	misses = 0;

	constructor(
		private readonly store: StateStore,
		readonly size: number,
		/** Told of every read as it is counted (the hot-cache metrics). */
		private readonly onRead: (hit: boolean) => void = () => undefined
	) {}

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
		await Promise.all(
			[...byConversation].map(async ([conversationId, list]) => {
				await this.store.zadd(
					key(conversationId),
					list.map(m => [m.seq, JSON.stringify(m)])
				);
				await this.store.ztrimToNewest(key(conversationId), this.size);
				await this.store.expire(key(conversationId), TTL_SECONDS);
			})
		);
	}

	stats(): HotCacheCounters {
		return { hits: this.hits, misses: this.misses };
	}

	/** Whether a page ending at `upperSeq` lies in the window the cache is meant to hold. */
	covers(lastSeq: number, upperSeq: number): boolean {
		return this.enabled && upperSeq > lastSeq - this.size;
	}

	/**
	 * The page, or null when the set lacks a seq the page needs (a miss; so is a failed read, which
	 * throws). `lastSeq` is the conversation's last seq as SQL has it now.
	 */
	async read(conversationId: string, query: HotQuery, lastSeq: number): Promise<HotPage | null> {
		let page: HotPage | null = null;
		try {
			if (this.enabled) page = await this.tryRead(conversationId, query, lastSeq);
		} finally {
			// A read that failed (the store is down) goes to SQL too: a miss.
			this.count(page !== null);
		}
		return page;
	}

	private count(hit: boolean): void {
		if (hit) this.hits++;
		else this.misses++;
		this.onRead(hit);
	}

	private async tryRead(conversationId: string, query: HotQuery, lastSeq: number): Promise<HotPage | null> {
		const { beforeSeq, afterSeq, limit } = query;
		const budget = new PageBudget(query.maxBytes ?? Infinity, query.allowEmpty);
		const upper = Math.min(lastSeq, beforeSeq !== undefined ? beforeSeq - 1 : lastSeq);
		if (afterSeq !== undefined) {
			const last = Math.min(upper, afterSeq + limit);
			if (last <= afterSeq) return empty();
			const read = await this.contiguous(conversationId, afterSeq + 1, last, budget, "oldest");
			return read && { messages: read.messages, hasMore: read.cut || last < upper, bytes: budget.bytes };
		}
		if (upper < 1) return empty();
		const first = Math.max(1, upper - limit + 1);
		const read = await this.contiguous(conversationId, first, upper, budget, "newest");
		return read && { messages: read.messages, hasMore: read.cut || first > 1, bytes: budget.bytes };
	}

	/**
	 * Messages with seq first..last, or null unless every one of them is in the set. When the
	 * budget runs out first, the part that fits from the `from` end (`cut`): a forward page keeps
	 * its oldest messages, a backward page its newest. Members are sized as stored (their JSON
	 * and a comma, as messageBytes counts) and parsed only up to the cut.
	 */
	private async contiguous(
		conversationId: string,
		first: number,
		last: number,
		budget: PageBudget,
		from: "oldest" | "newest"
	): Promise<{ messages: Message[]; cut: boolean } | null> {
		if (last - first + 1 > this.size) return null;
		const members = await this.store.zrangeByScore(key(conversationId), first, last);
		if (from === "newest") members.reverse();
		const step = from === "oldest" ? 1 : -1;
		let expected = from === "oldest" ? first : last;
		const messages: Message[] = [];
		let cut = false;
		for (const member of members) {
			const message = JSON.parse(member) as Message;
			// The same message can sit twice (written and refilled); keep one per seq.
			if (message.seq === expected - step) continue;
			if (message.seq !== expected) return null;
			if (!budget.take(Buffer.byteLength(member, "utf8") + 1)) {
				cut = true;
				break;
			}
			messages.push(message);
			expected += step;
		}
		if (!cut && messages.length !== last - first + 1) return null;
		return { messages: from === "oldest" ? messages : messages.reverse(), cut };
	}
}
