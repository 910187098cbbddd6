import type { StoredTokens, TokenStore } from "./types";

/** Keeps tokens for the life of the page or process. The default. */
export class MemoryTokenStore implements TokenStore {
	private tokens: StoredTokens | null = null;

	load(): StoredTokens | null {
		return this.tokens;
	}
	save(tokens: StoredTokens): void {
		this.tokens = tokens;
	}
	clear(): void {
		this.tokens = null;
	}
}

/** What the SDK needs of localStorage / sessionStorage (kept local: the SDK compiles without DOM types too). */
export interface KeyValueStorage {
	getItem(key: string): string | null;
	setItem(key: string, value: string): void;
	removeItem(key: string): void;
}

/** A Web Storage stand-in in memory: what a page gets where the browser blocks storage. */
export class MemoryStorage implements KeyValueStorage {
	private readonly items = new Map<string, string>();
	getItem(key: string): string | null {
		return this.items.get(key) ?? null;
	}
	setItem(key: string, value: string): void {
		this.items.set(key, value);
	}
	removeItem(key: string): void {
		this.items.delete(key);
	}
}

/**
 * The page's localStorage or sessionStorage; undefined where there is none (Node). A browser that
 * blocks storage throws a SecurityError on mere access: the page then gets a MemoryStorage, so it
 * works, without surviving a reload.
 */
export function webStorage(name: "localStorage" | "sessionStorage"): KeyValueStorage | undefined {
	try {
		return (globalThis as Record<string, unknown>)[name] as KeyValueStorage | undefined;
	} catch {
		return new MemoryStorage();
	}
}

/**
 * Keeps tokens in Web Storage (localStorage by default) so a reload stays signed in. Tabs of one
 * origin share it: Session reads it again before refreshing, since refresh tokens work only once.
 */
export class WebStorageTokenStore implements TokenStore {
	private readonly storage: KeyValueStorage;

	constructor(
		storage?: KeyValueStorage,
		private readonly key = "gochat.tokens"
	) {
		const found = storage ?? webStorage("localStorage");
		if (!found) throw new TypeError("WebStorageTokenStore needs a storage: no localStorage here");
		this.storage = found;
	}

	load(): StoredTokens | null {
		const text = this.storage.getItem(this.key);
		if (!text) return null;
		try {
			const tokens = JSON.parse(text) as Partial<StoredTokens> | null;
			const valid =
				typeof tokens?.accessToken === "string" &&
				typeof tokens.refreshToken === "string" &&
				typeof tokens.user?.id === "string";
			return valid ? (tokens as StoredTokens) : null;
		} catch {
			return null;
		}
	}
	save(tokens: StoredTokens): void {
		this.storage.setItem(this.key, JSON.stringify(tokens));
	}
	clear(): void {
		this.storage.removeItem(this.key);
	}
}
