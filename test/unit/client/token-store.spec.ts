import { KeyValueStorage, MemoryTokenStore, WebStorageTokenStore } from "../../../client/src/token-store";
import { alice } from "./fake-server";

const tokens = { accessToken: "a.b.c", refreshToken: "s.r", user: alice };

class MapStorage implements KeyValueStorage {
	readonly map = new Map<string, string>();
	getItem(key: string) {
		return this.map.get(key) ?? null;
	}
	setItem(key: string, value: string) {
		this.map.set(key, value);
	}
	removeItem(key: string) {
		this.map.delete(key);
	}
}

describe("MemoryTokenStore", () => {
	it("keeps what it was given until cleared", () => {
		const store = new MemoryTokenStore();
		expect(store.load()).toBeNull();
		store.save(tokens);
		expect(store.load()).toEqual(tokens);
		store.clear();
		expect(store.load()).toBeNull();
	});
});

describe("WebStorageTokenStore", () => {
	it("saves under gochat.tokens by default, loads and clears", () => {
		const storage = new MapStorage();
		const store = new WebStorageTokenStore(storage);
		store.save(tokens);
		expect(JSON.parse(storage.map.get("gochat.tokens")!)).toEqual(tokens);
		expect(new WebStorageTokenStore(storage).load()).toEqual(tokens);
		store.clear();
		expect(storage.map.size).toBe(0);
		expect(store.load()).toBeNull();
	});

	it("uses the key it is given", () => {
		const storage = new MapStorage();
		new WebStorageTokenStore(storage, "app.auth").save(tokens);
		expect([...storage.map.keys()]).toEqual(["app.auth"]);
	});

	it("answers null for corrupt or incomplete JSON", () => {
		const storage = new MapStorage();
		const store = new WebStorageTokenStore(storage);
		for (const text of ["{not json", "null", "42", JSON.stringify({ accessToken: "a" })]) {
			storage.setItem("gochat.tokens", text);
			expect(store.load()).toBeNull();
		}
	});

	it("uses globalThis.localStorage when no storage is given, and says so when there is none", () => {
		const storage = new MapStorage();
		(globalThis as { localStorage?: KeyValueStorage }).localStorage = storage;
		try {
			new WebStorageTokenStore().save(tokens);
			expect(storage.map.has("gochat.tokens")).toBe(true);
		} finally {
			delete (globalThis as { localStorage?: KeyValueStorage }).localStorage;
		}
		expect(() => new WebStorageTokenStore()).toThrow(/localStorage/);
	});
});
