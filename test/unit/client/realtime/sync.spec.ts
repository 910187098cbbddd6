import type { Ack, SyncedConversation, SyncParams, SyncReply } from "../../../../lib/contracts/client";
import type { Message } from "../../../../lib/types";
import { MessageLog } from "../../../../client/src/store/message-log";
import { SINCE_MAX, sinceFrom, Syncer, syncPages } from "../../../../client/src/realtime/sync";

/**
 * The server's side of `sync` as docs/realtime.md#sync describes it, on a small scale: conversations
 * in ID order, at most `maxEntries` per reply and `perEntry` messages per entry; a listed entry cut
 * short ends its reply and comes again first in the next.
 */
class FakeSyncServer {
	readonly requests: SyncParams[] = [];
	busyAnswers = 0;
	constructor(
		readonly conversations: Map<string, number>,
		readonly maxEntries = 2,
		readonly perEntry = 3
	) {}

	answer(params: SyncParams): Ack<SyncReply> {
		this.requests.push(structuredClone(params));
		if (this.busyAnswers > 0) {
			this.busyAnswers--;
			return { ok: false, error: { code: "RATE_LIMITED", message: "busy", details: { retryAfter: 1 } } };
		}
		const ids = [...this.conversations.keys()].sort();
		const since = params.since ?? {};
		const start = params.cursor ? ids.indexOf(params.cursor.slice(1)) + (params.cursor[0] === ">" ? 1 : 0) : 0;
		const entries: SyncedConversation[] = [];
		for (let i = start; i < ids.length; i++) {
			const id = ids[i];
			const lastSeq = this.conversations.get(id) as number;
			const listed = id in since;
			const from = listed ? since[id] : 0;
			if (lastSeq <= from) continue;
			if (entries.length === this.maxEntries) return { ok: true, conversations: entries, nextCursor: `=${id}` };
			const seqs = listed
				? range(from + 1, Math.min(lastSeq, from + this.perEntry))
				: range(Math.max(1, lastSeq - this.perEntry + 1), lastSeq);
			const hasMore = listed ? seqs[seqs.length - 1] < lastSeq : seqs[0] > 1;
			entries.push({
				conversationId: id,
				lastSeq,
				readSeq: 0,
				unreadCount: lastSeq,
				messages: seqs.map(seq => message(id, seq)),
				hasMore
			});
			if (listed && hasMore) return { ok: true, conversations: entries, nextCursor: `=${id}` };
		}
		return { ok: true, conversations: entries, nextCursor: null };
	}
}

function range(from: number, to: number): number[] {
	return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

function message(conversationId: string, seq: number): Message {
	return {
		id: `${conversationId}:${seq}`,
		conversationId,
		senderId: "2",
		type: "text",
		content: "x",
		seq,
		clientMsgId: `c-${conversationId}-${seq}`,
		createdAt: "2026-01-01T00:00:00.000Z"
	};
}

/** The client's side: logs with cursors, filled by sync the way GoChatClient does it. */
function clientOf(server: FakeSyncServer, logs = new Map<string, MessageLog>()) {
	const received: string[] = [];
	const deps = {
		request: async (payload: SyncParams) => server.answer(payload),
		cursors: () => {
			const cursors = new Map<string, number>();
			for (const [id, log] of logs) if (log.cursor !== null) cursors.set(id, log.cursor);
			return cursors;
		},
		apply: (entry: SyncedConversation) => {
			let log = logs.get(entry.conversationId);
			if (!log) logs.set(entry.conversationId, (log = new MessageLog(entry.conversationId)));
			log.initCursor(entry.messages[0].seq - 1);
			for (const m of entry.messages) if (log.add(m)) received.push(m.id);
		},
		sleep: jest.fn(async () => undefined)
	};
	return { deps, logs, received };
}

describe("sync paging", () => {
	test("a listed conversation cut short is asked again from its moved cursor; every message comes once", async () => {
		const server = new FakeSyncServer(
			new Map([
				["a", 7],
				["b", 2],
				["c", 0],
				["d", 5]
			])
		);
		const logs = new Map([["a", new MessageLog("a")]]);
		logs.get("a")?.initCursor(1);
		const { deps, received } = clientOf(server, logs);
		const outcome = await syncPages(deps);
		expect(outcome).toEqual({ complete: true, conversations: 3, messages: received.length });
		// a: listed from 1, so 2..7 in two entries; b, d not listed: their newest (at most 3).
		expect(received).toEqual(["a:2", "a:3", "a:4", "a:5", "a:6", "a:7", "b:1", "b:2", "d:3", "d:4", "d:5"]);
		expect(new Set(received).size).toBe(received.length);
		expect(server.requests.map(r => r.since?.a)).toEqual([1, 4, 7]);
		expect(server.requests[1].cursor).toBe("=a");
		// New to this device: the cursor starts below the newest messages sent (older ones are history).
		expect(logs.get("d")?.cursor).toBe(5);
		expect(logs.get("b")?.cursor).toBe(2);
		// A second walk finds nothing new.
		server.requests.length = 0;
		expect(await syncPages(deps)).toMatchObject({ complete: true, conversations: 0 });
		expect(server.requests[0].since).toEqual({ a: 7, b: 2, d: 5 });
	});

	test("RATE_LIMITED and OVERLOADED answers wait retryAfter and ask the same page again", async () => {
		const server = new FakeSyncServer(new Map([["a", 2]]));
		server.busyAnswers = 2;
		const { deps, received } = clientOf(server);
		expect(await syncPages(deps)).toMatchObject({ complete: true });
		expect(deps.sleep).toHaveBeenCalledTimes(2);
		expect(deps.sleep).toHaveBeenCalledWith(1000);
		expect(received).toEqual(["a:1", "a:2"]);
	});

	test("a refusal without retryAfter ends the walk incomplete", async () => {
		const { deps } = clientOf(new FakeSyncServer(new Map()));
		deps.request = async () => ({ ok: false, error: { code: "SERVICE_UNAVAILABLE", message: "down" } });
		expect(await syncPages(deps)).toMatchObject({ complete: false });
	});

	test("past 1000 cursors, since carries the first 1000 in ID order from the last conversation received", () => {
		const cursors = new Map(range(0, 1499).map(i => [`c${String(i).padStart(4, "0")}`, i]));
		expect(Object.keys(sinceFrom(cursors, ""))).toHaveLength(SINCE_MAX);
		const later = sinceFrom(cursors, "c0700");
		expect(Object.keys(later)).toHaveLength(800);
		expect(Object.keys(later).sort()[0]).toBe("c0700");
		expect(later.c0700).toBe(700);
		expect(Object.keys(sinceFrom(new Map([["x", 3]]), "z"))).toEqual(["x"]);
	});
});

describe("Syncer", () => {
	test("one walk at a time; asked for during one, it runs once more after it; synced once at the end", async () => {
		const server = new FakeSyncServer(new Map([["a", 1]]));
		const { deps } = clientOf(server);
		let release!: () => void;
		const gate = new Promise<void>(resolve => (release = resolve));
		const request = deps.request;
		deps.request = async payload => {
			await gate;
			return request(payload);
		};
		const done = jest.fn();
		const syncer = new Syncer(deps, done);
		const first = syncer.request();
		const second = syncer.request();
		const third = syncer.request();
		expect(syncer.busy).toBe(true);
		release();
		await Promise.all([first, second, third]);
		expect(server.requests).toHaveLength(2);
		expect(done).toHaveBeenCalledTimes(1);
		expect(syncer.busy).toBe(false);
	});

	test("a walk cut off by a lost ack ends quietly, without synced", async () => {
		const { deps } = clientOf(new FakeSyncServer(new Map()));
		deps.request = () => Promise.reject(new Error("timeout"));
		const done = jest.fn();
		await new Syncer(deps, done).request();
		expect(done).not.toHaveBeenCalled();
	});
});
