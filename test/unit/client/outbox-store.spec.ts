import { OUTBOX_STORE_MAX, WebStorageOutboxStore } from "../../../client/src/outbox-store";
import type { KeyValueStorage } from "../../../client/src/token-store";
import type { ChatMessage } from "../../../client/src/types";

class MapStorage implements KeyValueStorage {
	readonly map = new Map<string, string>();
	full = false;
	getItem(key: string) {
		return this.map.get(key) ?? null;
	}
	setItem(key: string, value: string) {
		if (this.full) throw new Error("QuotaExceededError");
		this.map.set(key, value);
	}
	removeItem(key: string) {
		this.map.delete(key);
	}
}

const unsent = (n: number, senderId = "1", status: ChatMessage["status"] = "pending"): ChatMessage => ({
	id: null,
	conversationId: "single_1_2",
	senderId,
	type: "text",
	content: `m${n}`,
	seq: null,
	clientMsgId: `c-${n}`,
	createdAt: "2026-11-22T00:00:00.000Z",
	status
});

describe("WebStorageOutboxStore", () => {
	test("keeps each user's unsent messages under its own key, in order; saving none removes the key", () => {
		const storage = new MapStorage();
		const store = new WebStorageOutboxStore(storage);
		const failed = { ...unsent(2, "1", "failed"), error: { code: "FORBIDDEN", message: "no" } };
		store.save("1", [unsent(1), failed]);
		store.save("2", [unsent(3, "2")]);
		expect(new WebStorageOutboxStore(storage).load("1")).toEqual([unsent(1), failed]);
		expect(store.load("2").map(m => m.clientMsgId)).toEqual(["c-3"]);
		expect([...storage.map.keys()].sort()).toEqual(["gochat.outbox.1", "gochat.outbox.2"]);
		store.save("1", []);
		expect(storage.map.has("gochat.outbox.1")).toBe(false);
		expect(store.load("1")).toEqual([]);
	});

	test("what it cannot trust is dropped: broken JSON, another user's or a sent message, missing fields", () => {
		const storage = new MapStorage();
		const store = new WebStorageOutboxStore(storage);
		storage.setItem("gochat.outbox.1", "{not json");
		expect(store.load("1")).toEqual([]);
		storage.setItem("gochat.outbox.1", JSON.stringify({ clientMsgId: "x" }));
		expect(store.load("1")).toEqual([]);
		const sent = { ...unsent(3), status: "sent", id: "9", seq: 4 };
		const noId = { ...unsent(4), clientMsgId: "" };
		const { content: _content, ...noContent } = unsent(5);
		storage.setItem(
			"gochat.outbox.1",
			JSON.stringify([unsent(1), unsent(2, "2"), sent, noId, noContent, null, "x", unsent(6)])
		);
		expect(store.load("1").map(m => m.clientMsgId)).toEqual(["c-1", "c-6"]);
	});

	test(`keeps at most ${OUTBOX_STORE_MAX} messages, pending ones before failed ones, in their order`, () => {
		const storage = new MapStorage();
		const store = new WebStorageOutboxStore(storage);
		const failed = Array.from({ length: OUTBOX_STORE_MAX }, (_, i) => unsent(i, "1", "failed"));
		const pending = [unsent(1000), unsent(1001)];
		store.save("1", [...failed, ...pending]);
		const loaded = store.load("1");
		expect(loaded).toHaveLength(OUTBOX_STORE_MAX);
		expect(loaded.slice(-2).map(m => m.clientMsgId)).toEqual(["c-1000", "c-1001"]);
		expect(loaded[0].clientMsgId).toBe("c-0");
	});

	test("a full storage does not throw, and leaves no older copy that would bring back sent messages", () => {
		const storage = new MapStorage();
		const store = new WebStorageOutboxStore(storage);
		store.save("1", [unsent(1), unsent(2)]);
		storage.full = true;
		expect(() => store.save("1", [unsent(2)])).not.toThrow();
		expect(store.load("1")).toEqual([]);
	});

	test("a storage whose reads throw loads nothing", () => {
		const storage = new MapStorage();
		storage.getItem = () => {
			throw new Error("SecurityError");
		};
		expect(new WebStorageOutboxStore(storage).load("1")).toEqual([]);
	});

	test("needs a storage where there is no sessionStorage; where the browser blocks it, keeps them in memory", () => {
		expect(() => new WebStorageOutboxStore()).toThrow(/no sessionStorage/);
		Object.defineProperty(globalThis, "sessionStorage", {
			configurable: true,
			get: () => {
				throw new Error("SecurityError: access is denied for this document");
			}
		});
		try {
			const store = new WebStorageOutboxStore();
			store.save("1", [unsent(1)]);
			expect(store.load("1")).toEqual([unsent(1)]);
		} finally {
			delete (globalThis as { sessionStorage?: unknown }).sessionStorage;
		}
	});
});
