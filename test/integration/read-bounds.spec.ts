import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register, Reply } from "../helpers/http";
import { closeAll, connect, emitAck } from "../helpers/sockets";

/**
 * Issue 7, finding 6: a guest added a victim to 40 groups full of 16 KB messages, and one `sync`
 * built a reply of ~128 MB; five at once took the server to 2.9 GB. Replies, history pages and
 * the conversation list are now bounded in bytes and count, and a user runs few syncs at once.
 */

type Message = { id: string; conversationId: string; seq: number; content: string };
type SyncEntry = { conversationId: string; lastSeq: number; messages: Message[]; hasMore: boolean };
type SyncAck =
	| { ok: true; conversations: SyncEntry[]; nextCursor: string | null }
	| { ok: false; error: { code: string; details?: { retryAfter?: number } } };

const MESSAGE_BYTES = 16384;
const MiB = 1024 * 1024;

/** 16 KB of text, different for every message. */
const bigContent = (tag: string) => `${tag} `.padEnd(MESSAGE_BYTES, "lorem ipsum dolor sit amet ");
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
	let next = 0;
	await Promise.all(
		Array.from({ length: width }, async () => {
			while (next < items.length) await work(items[next++]);
		})
	);
}

/** The attack: groups with the victims in them (no consent needed by default), each filled with 16 KB messages. */
async function spamGroups(attacker: Account, victims: Account[], groups: number, perGroup: number): Promise<string[]> {
	const ids: string[] = [];
	for (let g = 0; g < groups; g++) {
		const created = await attacker.api.post("/api/v1/groups", {
			name: `spam ${g}`,
			memberIds: victims.map(v => v.user.id)
		});
		expect(created.status).toBe(201);
		ids.push(created.body.group.conversationId);
	}
	const sends = ids.flatMap(id => Array.from({ length: perGroup }, (_, n) => ({ id, n })));
	await inParallel(sends, 8, async ({ id, n }) => {
		const sent = await attacker.api.post(`/api/v1/conversations/${id}/messages`, {
			clientMsgId: `${id}-${n}`,
			type: "text",
			content: bigContent(`${id}#${n}`)
		});
		expect(sent.status).toBe(200);
	});
	return ids;
}

/** Every conversation of a user, through the paged list. */
type Listed = { id: string; updatedAt: string; lastSeq: number };

async function listAll(account: Account, limit?: number): Promise<Listed[]> {
	const all: Listed[] = [];
	let cursor: string | null = null;
	do {
		const query: string[] = [];
		if (limit !== undefined) query.push(`limit=${limit}`);
		if (cursor !== null) query.push(`cursor=${encodeURIComponent(cursor)}`);
		const page = await account.api.get(`/api/v1/conversations${query.length ? `?${query.join("&")}` : ""}`);
		expect(page.status).toBe(200);
		all.push(...page.body.conversations);
		cursor = page.body.nextCursor ?? null;
		expect(all.length).toBeLessThan(10_000);
	} while (cursor !== null);
	return all;
}

interface Walk {
	/** The JSON size of every reply. */
	replySizes: number[];
	/** Message IDs in the order received. */
	received: string[];
	/** Most conversations in one reply. */
	widest: number;
}

/** The client recipe: since holds a cursor per conversation, moved by what arrives; follow nextCursor until null. */
async function syncAll(socket: Socket, since: Record<string, number>): Promise<Walk> {
	const walk: Walk = { replySizes: [], received: [], widest: 0 };
	let cursor: string | null = null;
	do {
		const reply: SyncAck = await emitAck(socket, "sync", cursor === null ? { since } : { since, cursor });
		if (!reply.ok) throw new Error(`sync refused: ${JSON.stringify(reply)}`);
		walk.replySizes.push(jsonBytes(reply));
		walk.widest = Math.max(walk.widest, reply.conversations.length);
		for (const entry of reply.conversations) {
			const listed = entry.conversationId in since;
			for (const message of entry.messages) {
				// A listed conversation continues exactly where the client was.
				if (listed) expect(message.seq).toBe(since[entry.conversationId] + 1);
				since[entry.conversationId] = message.seq;
				walk.received.push(message.id);
			}
		}
		cursor = reply.nextCursor ?? null;
		expect(walk.replySizes.length).toBeLessThan(1000);
	} while (cursor !== null);
	return walk;
}

/** The largest RSS of this process (it runs the server) while `work` runs, sampled every few ms. */
async function peakRss<T>(work: () => Promise<T>): Promise<{ before: number; peak: number; result: T }> {
	const before = process.memoryUsage().rss;
	let peak = before;
	const sampler = setInterval(() => {
		peak = Math.max(peak, process.memoryUsage().rss);
	}, 2);
	try {
		const result = await work();
		peak = Math.max(peak, process.memoryUsage().rss);
		return { before, peak, result };
	} finally {
		clearInterval(sampler);
	}
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

describe("one sync is bounded: 40 groups of 16 KB messages, default limits", () => {
	const GROUPS = 40;
	const PER_GROUP = 20;
	let gochat: RunningGoChat;
	let victims: Account[];
	let groups: string[];
	const sockets: Socket[] = [];
	const open = async (account: Account) => {
		const socket = await connect(gochat.baseUrl, account.accessToken);
		sockets.push(socket);
		return socket;
	};

	beforeAll(async () => {
		// Default SYNC_MAX_CONVERSATIONS, PAGE_MAX_BYTES, SYNC_PER_USER and MESSAGE_MAX_BYTES; only the filling is unthrottled.
		gochat = await startGoChat({ SEND_RATE_USER: "off", SEND_RATE_SOCKET: "off" });
		const api = new Api(gochat.baseUrl);
		const attacker = await register(api, "spammer");
		victims = await Promise.all(Array.from({ length: 5 }, (_, i) => register(api, `victim${i}`)));
		groups = await spamGroups(attacker, victims, GROUPS, PER_GROUP);
	}, 180_000);
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	test("replies stay within PAGE_MAX_BYTES, and nextCursor with since reaches every message exactly once", async () => {
		const { pageMaxBytes, syncMaxConversations } = gochat.config;
		expect([pageMaxBytes, syncMaxConversations, gochat.config.messageMaxBytes]).toEqual([MiB, 50, MESSAGE_BYTES]);
		const [victim] = victims;
		const known = await listAll(victim);
		expect(known.map(c => c.id).sort()).toEqual([...groups, "world"].sort());
		const since = Object.fromEntries(known.map(c => [c.id, 0]));

		const walk = await syncAll(await open(victim), since);
		const total = GROUPS * PER_GROUP;
		console.log(
			`sync of ${total} messages of 16 KB (${mib(walk.replySizes.reduce((a, b) => a + b, 0))}): ${walk.replySizes.length} replies, largest ${mib(Math.max(...walk.replySizes))}`
		);
		for (const size of walk.replySizes) expect(size).toBeLessThanOrEqual(pageMaxBytes);
		expect(walk.received).toHaveLength(total);
		expect(new Set(walk.received).size).toBe(total);
		for (const id of groups) expect(since[id]).toBe(PER_GROUP);
	});

	test("a fresh device (since {}) gets the newest messages of each conversation once, every reply bounded", async () => {
		const victim = victims[1];
		const seen: string[] = [];
		const sizes: number[] = [];
		const socket = await open(victim);
		let cursor: string | null = null;
		do {
			const reply: SyncAck = await emitAck(socket, "sync", cursor === null ? {} : { cursor });
			if (!reply.ok) throw new Error(JSON.stringify(reply));
			sizes.push(jsonBytes(reply));
			for (const entry of reply.conversations) {
				seen.push(entry.conversationId);
				// Not listed: the newest messages that fit, ending at the last one; hasMore says older exist.
				expect(entry.messages[entry.messages.length - 1].seq).toBe(entry.lastSeq);
				expect(entry.hasMore).toBe(entry.messages[0].seq > 1);
			}
			cursor = reply.nextCursor ?? null;
		} while (cursor !== null);
		expect(seen.sort()).toEqual([...groups].sort());
		for (const size of sizes) expect(size).toBeLessThanOrEqual(gochat.config.pageMaxBytes);
	});

	test("five concurrent syncs of one user: SYNC_PER_USER run, the rest are RATE_LIMITED; five users at once stay bounded in memory", async () => {
		const [victim] = victims;
		const since = Object.fromEntries([...groups, "world"].map(id => [id, 0]));
		const socket = await open(victim);
		const one = await peakRss(() =>
			Promise.all(Array.from({ length: 5 }, () => emitAck<SyncAck>(socket, "sync", { since })))
		);
		const answered = one.result.filter(reply => reply.ok);
		const refused = one.result.filter(reply => !reply.ok);
		expect(answered).toHaveLength(gochat.config.syncPerUser);
		for (const reply of refused) {
			expect(reply).toEqual({
				ok: false,
				error: expect.objectContaining({
					code: "RATE_LIMITED",
					details: expect.objectContaining({ retryAfter: 1 })
				})
			});
		}
		// Once those answered, the user may sync again.
		expect((await emitAck<SyncAck>(socket, "sync", { since })).ok).toBe(true);

		// Five victims, one sync each, all admitted at once.
		const all = await Promise.all(victims.map(open));
		const five = await peakRss(() => Promise.all(all.map(s => emitAck<SyncAck>(s, "sync", { since }))));
		for (const reply of five.result) {
			expect(reply.ok).toBe(true);
			expect(jsonBytes(reply)).toBeLessThanOrEqual(gochat.config.pageMaxBytes);
		}
		console.log(
			`RSS during 5 syncs of one user: ${mib(one.before)} → peak ${mib(one.peak)} (+${mib(one.peak - one.before)}); ` +
				`5 users at once: ${mib(five.before)} → peak ${mib(five.peak)} (+${mib(five.peak - five.before)}); ` +
				`the unbounded reply would have been ${mib(GROUPS * PER_GROUP * (MESSAGE_BYTES + 200))} each`
		);
		// Loosely: five replies of the whole 13 MiB each, and their copies, would pass this by far.
		expect(one.peak - one.before).toBeLessThan(64 * MiB);
		expect(five.peak - five.before).toBeLessThan(64 * MiB);
	});
});

describe.each([
	["SQL", "0"],
	["the hot cache", "300"]
])("lowered limits, read from %s: PAGE_MAX_BYTES=65536, SYNC_MAX_CONVERSATIONS=3", (_source, hotCacheSize) => {
	const PAGE = 65536;
	let gochat: RunningGoChat;
	let api: Api;
	let alice: Account;
	let bob: Account;
	let direct: string;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		gochat = await startGoChat({
			PAGE_MAX_BYTES: String(PAGE),
			SYNC_MAX_CONVERSATIONS: "3",
			HOT_CACHE_SIZE: hotCacheSize,
			SEND_RATE_USER: "off",
			SEND_RATE_SOCKET: "off"
		});
		api = new Api(gochat.baseUrl);
		[alice, bob] = [await register(api, "alice"), await register(api, "bob")];
		direct = (await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id })).body.conversation.id;
		for (let n = 1; n <= 10; n++) {
			const sent = await alice.api.post(`/api/v1/conversations/${direct}/messages`, {
				clientMsgId: `d${n}`,
				type: "text",
				content: bigContent(`direct#${n}`)
			});
			expect(sent.body.message.seq).toBe(n);
		}
	}, 60_000);
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	test("history pages hold fewer messages past PAGE_MAX_BYTES, with hasMore; paging either way reads each message once", async () => {
		const backward: number[] = [];
		let beforeSeq: number | null = null;
		for (;;) {
			const page: Reply<{ messages: Message[]; hasMore: boolean }> = await bob.api.get(
				`/api/v1/conversations/${direct}/messages?limit=200${beforeSeq === null ? "" : `&beforeSeq=${beforeSeq}`}`
			);
			expect(page.status).toBe(200);
			expect(jsonBytes(page.body)).toBeLessThanOrEqual(PAGE + 100);
			expect(page.body.messages.length).toBeGreaterThan(0);
			backward.unshift(...page.body.messages.map(m => m.seq));
			if (!page.body.hasMore) break;
			beforeSeq = page.body.messages[0].seq;
		}
		expect(backward).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

		const forward: number[] = [];
		let afterSeq = 0;
		for (;;) {
			const page = await bob.api.get(`/api/v1/conversations/${direct}/messages?limit=200&afterSeq=${afterSeq}`);
			expect(jsonBytes(page.body)).toBeLessThanOrEqual(PAGE + 100);
			forward.push(...page.body.messages.map((m: Message) => m.seq));
			if (!page.body.hasMore) break;
			afterSeq = page.body.messages[page.body.messages.length - 1].seq;
		}
		expect(forward).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
		// 16 KB each: three fit in 64 KiB.
		const newest = await bob.api.get(`/api/v1/conversations/${direct}/messages?limit=200`);
		expect(newest.body.messages.map((m: Message) => m.seq)).toEqual([8, 9, 10]);
		expect(newest.body.hasMore).toBe(true);
	});

	test("small messages: a page of up to 200 arrives whole (SQL reads it in rounds), with hasMore as before", async () => {
		const erin = await register(api, "erin");
		const chat = (await erin.api.post("/api/v1/conversations/direct", { userId: alice.user.id })).body.conversation
			.id;
		await inParallel(
			Array.from({ length: 150 }, (_, i) => i),
			4,
			async i => {
				expect(
					(
						await erin.api.post(`/api/v1/conversations/${chat}/messages`, {
							clientMsgId: `s${i}`,
							type: "text",
							content: `small ${i}`
						})
					).status
				).toBe(200);
			}
		);
		const seqs = (page: Reply) => page.body.messages.map((m: Message) => m.seq);
		const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
		const whole = await erin.api.get(`/api/v1/conversations/${chat}/messages?limit=200`);
		expect([seqs(whole), whole.body.hasMore]).toEqual([range(1, 150), false]);
		const newest = await erin.api.get(`/api/v1/conversations/${chat}/messages?limit=100`);
		expect([seqs(newest), newest.body.hasMore]).toEqual([range(51, 150), true]);
		const oldest = await erin.api.get(`/api/v1/conversations/${chat}/messages?limit=100&afterSeq=0`);
		expect([seqs(oldest), oldest.body.hasMore]).toEqual([range(1, 100), true]);
		const middle = await erin.api.get(`/api/v1/conversations/${chat}/messages?limit=200&afterSeq=10&beforeSeq=141`);
		expect([seqs(middle), middle.body.hasMore]).toEqual([range(11, 140), false]);
	});

	test("sync: at most SYNC_MAX_CONVERSATIONS per reply and PAGE_MAX_BYTES, every message exactly once", async () => {
		const carol = await register(api, "carol");
		const chats: string[] = [];
		for (let g = 0; g < 7; g++) {
			const created = await alice.api.post("/api/v1/groups", { name: `small ${g}`, memberIds: [carol.user.id] });
			chats.push(created.body.group.conversationId);
			for (let n = 0; n < g % 3; n++)
				await alice.api.post(`/api/v1/conversations/${created.body.group.conversationId}/messages`, {
					clientMsgId: `g${g}-${n}`,
					type: "text",
					content: `short ${n}`
				});
		}
		await alice.api.post(`/api/v1/conversations/${chats[6]}/messages`, {
			clientMsgId: "big-1",
			type: "text",
			content: bigContent("big 1")
		});
		await alice.api.post(`/api/v1/conversations/${chats[6]}/messages`, {
			clientMsgId: "big-2",
			type: "text",
			content: bigContent("big 2")
		});
		const socket = await connect(gochat.baseUrl, carol.accessToken);
		sockets.push(socket);
		const since = Object.fromEntries([...chats, "world"].map(id => [id, 0]));
		const walk = await syncAll(socket, since);
		expect(walk.widest).toBeLessThanOrEqual(3);
		for (const size of walk.replySizes) expect(size).toBeLessThanOrEqual(PAGE);
		// Groups 0-5 hold 0, 1, 2, 0, 1, 2 short messages; group 6 two of 16 KB.
		const expected = 0 + 1 + 2 + 0 + 1 + 2 + 2;
		expect(walk.received).toHaveLength(expected);
		expect(new Set(walk.received).size).toBe(expected);
	});

	test("GET /conversations pages by activity with limit and cursor, each conversation once, cut at PAGE_MAX_BYTES", async () => {
		const dave = await register(api, "dave");
		const mine: string[] = [];
		for (let g = 0; g < 6; g++) {
			const created = await dave.api.post("/api/v1/groups", { name: `dave ${g}`, memberIds: [] });
			mine.push(created.body.group.conversationId);
			await dave.api.post(`/api/v1/conversations/${created.body.group.conversationId}/messages`, {
				clientMsgId: `dv${g}`,
				type: "text",
				content: `hello ${g}`
			});
		}
		const whole = await dave.api.get("/api/v1/conversations?limit=500");
		expect(whole.body.nextCursor).toBeNull();
		const expectedOrder = whole.body.conversations.map((c: { id: string }) => c.id);
		expect(expectedOrder.slice(0, 6)).toEqual([...mine].reverse());
		const paged = await listAll(dave, 2);
		expect(paged.map(c => c.id)).toEqual(expectedOrder);
		for (let i = 1; i < paged.length; i++) expect(paged[i - 1].updatedAt >= paged[i].updatedAt).toBe(true);

		// bob's list holds the direct conversation whose last message is 16 KB: a page stops when the next one would not fit.
		for (let g = 0; g < 5; g++) {
			const created = await alice.api.post("/api/v1/groups", { name: `heavy ${g}`, memberIds: [bob.user.id] });
			await alice.api.post(`/api/v1/conversations/${created.body.group.conversationId}/messages`, {
				clientMsgId: `h${g}`,
				type: "text",
				content: bigContent(`heavy ${g}`)
			});
		}
		const heavy = await bob.api.get("/api/v1/conversations");
		expect(heavy.body.conversations.length).toBeLessThan(7);
		expect(jsonBytes(heavy.body)).toBeLessThanOrEqual(PAGE + 200);
		expect(heavy.body.nextCursor).toEqual(expect.any(String));
		expect((await listAll(bob)).length).toBe(7);
	});

	test("refused: since with over 1000 conversations, a cursor the server did not give, limit outside 1-500", async () => {
		const socket = await connect(gochat.baseUrl, bob.accessToken);
		sockets.push(socket);
		const tooMany = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`group_${i}`, 0]));
		const wide = await emitAck(socket, "sync", { since: tooMany });
		expect(wide).toMatchObject({ ok: false, error: { code: "INVALID_INPUT" } });
		const bare = await emitAck(socket, "sync", { cursor: "nonsense" });
		expect(bare).toMatchObject({ ok: false, error: { code: "INVALID_INPUT" } });
		expect(
			(await emitAck(socket, "sync", { since: Object.fromEntries(Object.entries(tooMany).slice(0, 1000)) })).ok
		).toBe(true);

		for (const query of [
			"limit=501",
			"limit=0",
			"cursor=nonsense",
			`cursor=${Buffer.from('["s",""]').toString("base64url")}`
		]) {
			const res = await bob.api.get(`/api/v1/conversations?${query}`);
			expect([query, res.status, res.body.error?.code]).toEqual([query, 400, "INVALID_INPUT"]);
		}
	});
});
