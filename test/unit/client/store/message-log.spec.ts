import { ConversationList } from "../../../../client/src/store/conversation-list";
import { MessageLog } from "../../../../client/src/store/message-log";
import type { ChatMessage } from "../../../../client/src/types";
import type { Message } from "../../../../lib/types";

const C = "single_1_2";

function msg(seq: number, extra: Partial<Message> = {}): Message {
	return {
		id: `m${seq}`,
		conversationId: C,
		senderId: "2",
		type: "text",
		content: `text ${seq}`,
		seq,
		clientMsgId: `c${seq}`,
		createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
		...extra
	};
}

function pending(clientMsgId: string): ChatMessage {
	return {
		id: null,
		conversationId: C,
		senderId: "1",
		type: "text",
		content: "mine",
		seq: null,
		clientMsgId,
		createdAt: new Date().toISOString(),
		status: "pending"
	};
}

describe("MessageLog", () => {
	test("keeps each message once, by id, in seq order whatever the arrival order", () => {
		const log = new MessageLog(C);
		for (const seq of [3, 1, 2, 3, 1]) log.add(msg(seq));
		expect(log.add(msg(2))).toBeNull();
		expect(log.messages().map(m => m.seq)).toEqual([1, 2, 3]);
		expect(log.messages().every(m => m.status === "sent")).toBe(true);
	});

	test("shows pending and failed messages after the stored ones, in send order", () => {
		const log = new MessageLog(C);
		log.putLocal(pending("a"));
		log.add(msg(2));
		log.putLocal(pending("b"));
		log.add(msg(1));
		expect(log.messages().map(m => m.seq ?? m.clientMsgId)).toEqual([1, 2, "a", "b"]);
		log.putLocal({ ...pending("a"), status: "failed" });
		expect(log.messages().map(m => m.status)).toEqual(["sent", "sent", "failed", "pending"]);
		expect(log.removeLocal("a")).toBe(true);
		expect(log.last()?.clientMsgId).toBe("b");
	});

	test("the cursor advances only through seqs held without a gap", () => {
		const log = new MessageLog(C);
		log.add(msg(5));
		expect(log.cursor).toBeNull();
		expect(log.hasGap()).toBe(true);
		log.initCursor(3);
		expect(log.cursor).toBe(3);
		log.add(msg(6));
		expect(log.cursor).toBe(3);
		log.add(msg(4));
		expect(log.cursor).toBe(6);
		expect(log.hasGap()).toBe(false);
		// A cursor once set is never moved by a later sync's "newest messages".
		log.initCursor(100);
		expect(log.cursor).toBe(6);
	});

	test("holding seq 1 sets the cursor: nothing exists below it", () => {
		const log = new MessageLog(C);
		log.add(msg(2));
		log.add(msg(1));
		expect(log.cursor).toBe(2);
		expect(log.lowestSeq).toBe(1);
		expect(log.highestSeq).toBe(2);
	});
});

describe("MessageLog limit", () => {
	test("past the limit the oldest at or below the cursor go; the cursor stays; a late copy stays out", () => {
		const log = new MessageLog(C, 3);
		for (let seq = 1; seq <= 10; seq++) log.add(msg(seq));
		expect(log.messages().map(m => m.seq)).toEqual([8, 9, 10]);
		expect(log.cursor).toBe(10);
		expect(log.lowestSeq).toBe(8);
		expect(log.add(msg(2))).toBeNull();
		// A page of history (loadOlder) is kept.
		log.makeRoom(3, 5);
		for (const seq of [5, 6, 7]) log.add(msg(seq));
		expect(log.messages().map(m => m.seq)).toEqual([5, 6, 7, 8, 9, 10]);
	});

	test("messages above the cursor (a gap) are never dropped, so the gap can close", () => {
		const log = new MessageLog(C, 3);
		log.add(msg(1));
		for (let seq = 3; seq <= 8; seq++) log.add(msg(seq));
		expect(log.cursor).toBe(1);
		expect(log.messages().map(m => m.seq)).toEqual([3, 4, 5, 6, 7, 8]);
		log.add(msg(2));
		expect(log.cursor).toBe(8);
		expect(log.messages().map(m => m.seq)).toEqual([6, 7, 8]);
	});
});

describe("ConversationList", () => {
	test("rows go newest activity first; positions only move forward; unread is lastSeq - readSeq", () => {
		const list = new ConversationList();
		list.ensure("world", "2026-01-01T00:00:00.000Z");
		list.positions(C, 5, 2);
		list.offerLast(C, { ...msg(5), status: "sent" });
		expect(list.list().map(r => r.id)).toEqual([C, "world"]);
		expect(list.get(C)).toMatchObject({ type: "direct", lastSeq: 5, readSeq: 2, unreadCount: 3 });
		list.positions(C, 3, 1);
		expect(list.get(C)).toMatchObject({ lastSeq: 5, readSeq: 2, unreadCount: 3 });
		// A read position beyond what the row saw means newer messages exist.
		list.positions(C, 0, 7);
		expect(list.get(C)).toMatchObject({ lastSeq: 7, readSeq: 7, unreadCount: 0 });
	});

	test("a pending last message gives way to the stored one and goes when discarded", () => {
		const list = new ConversationList();
		list.offerLast(C, { ...msg(4), status: "sent" });
		list.offerLast(C, pending("a"));
		expect(list.get(C)?.lastMessage?.clientMsgId).toBe("a");
		list.offerLast(C, { ...msg(3), status: "sent" });
		expect(list.get(C)?.lastMessage?.seq).toBe(3);
		list.offerLast(C, { ...msg(2), status: "sent" });
		expect(list.get(C)?.lastMessage?.seq).toBe(3);
		list.offerLast(C, pending("b"));
		list.offerLast(C, null);
		expect(list.get(C)?.lastMessage).toBeNull();
	});
});
