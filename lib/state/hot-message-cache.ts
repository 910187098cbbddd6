import type { Message } from "../types";
import type { StateStore } from "./state-store";

/**
 * The newest messages of each conversation (seed 004: 300, by seq), so history reads near the
 * end of a conversation never touch the database. Per conversation a sorted set scored by seq,
 * and a floor: every stored message with seq >= floor is in the set. Writers always add, readers
 * fill a cold conversation once; a read the set cannot answer in full goes to the database.
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

/** Keys expire after a day without writes, so a crash between commit and cache write heals itself. */
const TTL_SECONDS = 24 * 3600;

export class HotMessageCache {
	hits = 0;
	misses = 0;

	constructor(private readonly store: StateStore, readonly size: number) {}

	private setKey(conversationId: string) {
		return `hot:${conversationId}`;
	}

	private floorKey(conversationId: string) {
		return `hot-floor:${conversationId}`;
	}

	get enabled(): boolean {
		return this.size > 0;
	}

	async add(message: Message): Promise<void> {
		if (!this.enabled) return;
		const key = this.setKey(message.conversationId);
		await this.store.zadd(key, [[message.seq, JSON.stringify(message)]]);
		await this.store.ztrimToNewest(key, this.size);
		await this.store.expire(key, TTL_SECONDS);
		const floorKey = this.floorKey(message.conversationId);
		const floor = await this.store.get(floorKey);
		if (floor === null) {
			// A conversation's first message: its whole history is in the set from the start.
			if (message.seq === 1) await this.store.set(floorKey, "1", TTL_SECONDS);
			return;
		}
		const lowest = await this.store.zminScore(key);
		if (lowest !== null && lowest > Number(floor)) await this.store.set(floorKey, String(lowest), TTL_SECONDS);
		else await this.store.expire(floorKey, TTL_SECONDS);
	}

	/** Loads a cold conversation's newest messages (newest first, as the database returns them). */
	async fill(conversationId: string, newestFirst: Message[]): Promise<void> {
		if (!this.enabled) return;
		const key = this.setKey(conversationId);
		await this.store.zadd(key, newestFirst.map(m => [m.seq, JSON.stringify(m)]));
		await this.store.expire(key, TTL_SECONDS);
		// Fewer than a full window means the conversation's whole history is here.
		const floor = newestFirst.length < this.size ? 1 : newestFirst[newestFirst.length - 1].seq;
		await this.store.set(this.floorKey(conversationId), String(floor), TTL_SECONDS);
	}

	async isWarm(conversationId: string): Promise<boolean> {
		return this.enabled && (await this.store.get(this.floorKey(conversationId))) !== null;
	}

	/** The page from the cache, or null when the cache cannot answer it in full (counted as a miss). */
	async read(conversationId: string, query: HotQuery): Promise<HotPage | null> {
		const page = await this.tryRead(conversationId, query);
		if (page) this.hits++;
		else this.misses++;
		return page;
	}

	private async tryRead(conversationId: string, { beforeSeq, afterSeq, limit }: HotQuery): Promise<HotPage | null> {
		if (!this.enabled) return null;
		const floorValue = await this.store.get(this.floorKey(conversationId));
		if (floorValue === null) return null;
		const floor = Number(floorValue);
		const upper = beforeSeq !== undefined ? beforeSeq - 1 : Infinity;
		if (afterSeq !== undefined) {
			if (afterSeq + 1 < floor) return null;
			const found = await this.range(conversationId, afterSeq + 1, upper);
			return { messages: found.slice(0, limit), hasMore: found.length > limit };
		}
		const found = await this.range(conversationId, floor, upper);
		if (found.length > limit) return { messages: found.slice(-limit), hasMore: true };
		// All the set has below `upper`: complete only if nothing older exists outside it.
		if (floor > 1) return null;
		return { messages: found, hasMore: false };
	}

	private async range(conversationId: string, min: number, max: number): Promise<Message[]> {
		if (min > max) return [];
		const members = await this.store.zrangeByScore(this.setKey(conversationId), min, max);
		return members.map(member => JSON.parse(member) as Message);
	}
}
