/**
 * Waiting work kept per key (a user) and handed out round-robin between the keys: each turn
 * takes the oldest item of the next key, so a key with a long queue delays only itself. The
 * ring is the Map's insertion order: a key served goes to the back, a key emptied leaves it.
 */
export class FairQueue<T> {
	private readonly byKey = new Map<string, T[]>();
	private count = 0;

	/** Items waiting, over all keys. */
	get size(): number {
		return this.count;
	}

	/** Keys with at least one item waiting. */
	get keys(): number {
		return this.byKey.size;
	}

	sizeOf(key: string): number {
		return this.byKey.get(key)?.length ?? 0;
	}

	push(key: string, item: T): void {
		const items = this.byKey.get(key);
		if (items) items.push(item);
		else this.byKey.set(key, [item]);
		this.count++;
	}

	/** The oldest item of the key whose turn it is, or undefined when nothing waits. */
	shift(): T | undefined {
		const next = this.byKey.entries().next();
		if (next.done) return undefined;
		const [key, items] = next.value;
		const item = items.shift() as T;
		this.byKey.delete(key);
		if (items.length > 0) this.byKey.set(key, items);
		this.count--;
		return item;
	}

	/** Takes out the items `matches` picks, of one key or of all, keeping each key's turn; returns them. */
	removeWhere(matches: (item: T) => boolean, key?: string): T[] {
		const removed: T[] = [];
		const keys = key === undefined ? [...this.byKey.keys()] : [key];
		for (const k of keys) {
			const items = this.byKey.get(k);
			if (!items) continue;
			const kept: T[] = [];
			for (const item of items) (matches(item) ? removed : kept).push(item);
			if (kept.length === items.length) continue;
			if (kept.length === 0) this.byKey.delete(k);
			else this.byKey.set(k, kept);
		}
		this.count -= removed.length;
		return removed;
	}
}
