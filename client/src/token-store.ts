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
		const found = storage ?? (globalThis as { localStorage?: KeyValueStorage }).localStorage;
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
