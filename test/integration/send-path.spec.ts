import type { Socket } from "socket.io-client";
import type { Message } from "../../lib/types";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, emitAck, record } from "../helpers/sockets";
import { until } from "../helpers/wait";

type Ack = {
	ok: boolean;
	message?: Message;
	error?: { code: string; message: string; details?: { retryAfter?: number } };
};
type Sequelize = { getDialect(): string; query(sql: string): Promise<unknown> };

const sendOver = (socket: Socket, conversationId: string, clientMsgId: string, content = clientMsgId) =>
	emitAck<Ack>(socket, "message:send", { conversationId, clientMsgId, type: "text", content });

/** Every message of a conversation, paging forward through history. */
async function historyOf(account: Account, conversationId: string): Promise<Message[]> {
	const all: Message[] = [];
	for (;;) {
		const after = all.length > 0 ? all[all.length - 1].seq : 0;
		const page = await account.api.get(
			`/api/v1/conversations/${conversationId}/messages?afterSeq=${after}&limit=200`
		);
		all.push(...page.body.messages);
		if (!page.body.hasMore) return all;
	}
}

/**
 * Holds the next message INSERT until release(): a send stays in flight as long as the test
 * wants, so what happens around it does not depend on how fast the machine is.
 */
function holdNextMessageInsert(gochat: RunningGoChat) {
	const sequelize = (
		gochat.broker.getLocalService("repo.messages") as unknown as {
			db: { sequelize: { query(sql: string, ...rest: unknown[]): Promise<unknown> } };
		}
	).db.sequelize;
	const query = sequelize.query.bind(sequelize);
	let open!: () => void;
	const gate = new Promise<void>(resolve => (open = resolve));
	let reachedIt!: () => void;
	const reached = new Promise<void>(resolve => (reachedIt = resolve));
	let held: Promise<unknown> | null = null;
	sequelize.query = (sql: string, ...rest: unknown[]) => {
		if (held || !sql.startsWith("INSERT INTO messages")) return query(sql, ...rest);
		held = gate.then(() => query(sql, ...rest));
		reachedIt();
		return held;
	};
	return {
		/** Resolves once an INSERT is held. */
		reached,
		/** Lets the held INSERT run, waits for it, and puts the real query back. */
		async release() {
			open();
			await held?.catch(() => undefined);
			sequelize.query = query;
		}
	};
}

const direct = async (a: Account, b: Account) =>
	(await a.api.post("/api/v1/conversations/direct", { userId: b.user.id })).body.conversation.id as string;
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("the send path: one call, group commit, seqs from SQL", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];
	const open = async (account: Account) => {
		const socket = await connect(gochat.baseUrl, account.accessToken);
		sockets.push(socket);
		return socket;
	};

	beforeAll(async () => {
		// 600 sends arrive at once here: room for all of them, so this suite tests storing, not admission.
		gochat = await startGoChat({ SEND_QUEUE: "1000", SEND_QUEUE_PER_USER: "1000" });
		api = new Api(gochat.baseUrl);
	});
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	test("hundreds of concurrent sends and resends across a few conversations: gap-free seqs, each message stored once", async () => {
		const users = [];
		for (let i = 0; i < 6; i++) users.push(await register(api, `gc${i}`));
		const conversations = [
			await direct(users[0], users[1]),
			await direct(users[2], users[3]),
			await direct(users[4], users[5])
		];
		const group = await users[0].api.post("/api/v1/groups", {
			name: "burst",
			memberIds: users.slice(1).map(u => u.user.id)
		});
		conversations.push(group.body.group.conversationId);
		const senders = [
			[0, 1],
			[2, 3],
			[4, 5],
			[0, 5]
		];
		const socketsOf = await Promise.all(users.map(open));

		const sends: Array<Promise<{ key: string; acks: Ack[] }>> = [];
		for (let n = 0; n < 300; n++) {
			const c = n % conversations.length;
			const sender = socketsOf[senders[c][n % 2]];
			const key = `burst-${n}`;
			// Every message is sent twice at once: the resend must get the original back.
			sends.push(
				Promise.all([sendOver(sender, conversations[c], key), sendOver(sender, conversations[c], key)]).then(
					acks => ({ key, acks })
				)
			);
		}
		const results = await Promise.all(sends);
		for (const { acks } of results) {
			expect(acks.map(a => a.ok)).toEqual([true, true]);
			expect(acks[1].message).toEqual(acks[0].message);
		}
		for (const [c, id] of conversations.entries()) {
			const acked = results.map(r => r.acks[0].message!).filter(m => m.conversationId === id);
			expect(acked.map(m => m.seq).sort((a, b) => a - b)).toEqual(range(75));
			const stored = await historyOf(users[senders[c][0]], id);
			expect(stored.map(m => m.seq)).toEqual(range(75));
			expect(new Set(stored.map(m => m.clientMsgId)).size).toBe(75);
		}
		const { groupCommit } = await gochat.broker.call<{ groupCommit: { batches: number; messages: number } }>(
			"repo.messages.stats"
		);
		// Concurrent sends shared transactions: far fewer batches than messages.
		expect(groupCommit.messages).toBeGreaterThanOrEqual(300);
		expect(groupCommit.batches).toBeLessThan(groupCommit.messages);
	});

	test("a message whose insert fails fails alone and takes no seq", async () => {
		const sequelize = (
			gochat.broker.getLocalService("repo.messages") as unknown as { db: { sequelize: Sequelize } }
		).db.sequelize;
		await sequelize.query(
			sequelize.getDialect() === "sqlite"
				? "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.content = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
				: "CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW BEGIN IF NEW.content = 'poison' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poisoned'; END IF; END"
		);
		try {
			const [ann, ben] = [await register(api, "ann"), await register(api, "ben")];
			const id = await direct(ann, ben);
			const [a, b] = [await open(ann), await open(ben)];
			const atBen = record<{ message: Message }>(b, "message:new");
			const acks = await Promise.all(
				range(21).map(n => sendOver(a, id, `p-${n}`, n === 11 ? "poison" : `fine ${n}`))
			);
			expect(acks[10]).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
			const good = acks.filter((_, i) => i !== 10);
			expect(good.every(ack => ack.ok)).toBe(true);
			expect(good.map(ack => ack.message!.seq).sort((x, y) => x - y)).toEqual(range(20));
			const next = await sendOver(a, id, "p-after", "after the poison");
			expect(next.message!.seq).toBe(21);
			expect((await historyOf(ben, id)).map(m => m.content)).not.toContain("poison");
			await new Promise<void>(resolve => {
				const check = () => (atBen.length >= 21 ? resolve() : setTimeout(check, 20));
				check();
			});
			expect(atBen.map(e => e.message.seq).sort((x, y) => x - y)).toEqual(range(21));
		} finally {
			await sequelize.query("DROP TRIGGER poison");
		}
	});

	test("a resend after the original was stored returns it and pushes nothing again", async () => {
		const [cy, di] = [await register(api, "cy"), await register(api, "di")];
		const id = await direct(cy, di);
		const [c, d] = [await open(cy), await open(di)];
		const atDi = record<{ message: Message }>(d, "message:new");
		const first = await sendOver(c, id, "once", "original");
		const again = await sendOver(c, id, "once", "changed");
		expect(again.message).toEqual(first.message);
		const marker = await sendOver(c, id, "marker");
		await new Promise<void>(resolve => {
			const check = () =>
				atDi.some(e => e.message.id === marker.message!.id) ? resolve() : setTimeout(check, 20);
			check();
		});
		expect(atDi.map(e => e.message.content)).toEqual(["original", "marker"]);
	});
});

describe("overload: a tiny admission limit", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		gochat = await startGoChat({ SEND_CONCURRENCY: "1", SEND_QUEUE: "2" });
		api = new Api(gochat.baseUrl);
	});
	afterAll(async () => {
		closeAll(sockets);
		await gochat.stop();
	});

	test("a burst past capacity is refused at once with OVERLOADED; every acked message is stored and pushed, no refused one is stored", async () => {
		const [eli, fay] = [await register(api, "eli"), await register(api, "fay")];
		const id = await direct(eli, fay);
		const [e, f] = [await connect(gochat.baseUrl, eli.accessToken), await connect(gochat.baseUrl, fay.accessToken)];
		sockets.push(e, f);
		const atFay = record<{ message: Message }>(f, "message:new");

		// The first send is held at its INSERT, so it keeps the one slot while the burst arrives.
		const hold = holdNextMessageInsert(gochat);
		const first = sendOver(e, id, "o-0");
		await hold.reached;
		let answered = 0;
		const sends = range(60).map(n => sendOver(e, id, `o-${n}`).finally(() => answered++));
		// Two wait in the queue; every other one is refused without waiting for the slot.
		await until(() => answered >= 58, "the burst's refusals");
		await hold.release();
		const results = await Promise.all([first, ...sends]);
		const refused = results.filter(ack => !ack.ok);
		const acked = results.filter(ack => ack.ok).map(ack => ack.message!);
		expect([acked.length, refused.length]).toEqual([3, 58]);
		for (const ack of refused) {
			expect(ack.error).toMatchObject({ code: "OVERLOADED", details: { retryAfter: expect.any(Number) } });
		}

		const stored = await historyOf(fay, id);
		expect(stored.map(m => m.id).sort()).toEqual(acked.map(m => m.id).sort());
		expect(stored.map(m => m.seq)).toEqual(range(acked.length));
		await new Promise<void>(resolve => {
			const check = () => (atFay.length >= acked.length ? resolve() : setTimeout(check, 20));
			check();
		});
		expect(atFay.map(x => x.message.id).sort()).toEqual(acked.map(m => m.id).sort());

		// Over REST the same refusal is a 503 with Retry-After.
		const post = (n: number) =>
			eli.api.post(`/api/v1/conversations/${id}/messages`, {
				clientMsgId: `r-${n}`,
				type: "text",
				content: "rest"
			});
		const restHold = holdNextMessageInsert(gochat);
		const firstPost = post(0);
		await restHold.reached;
		let posted = 0;
		const posts = range(30).map(n => post(n).finally(() => posted++));
		await until(() => posted >= 28, "the REST burst's refusals");
		await restHold.release();
		const burst = await Promise.all([firstPost, ...posts]);
		const rejected = burst.filter(r => r.status !== 200);
		expect(rejected).toHaveLength(28);
		for (const r of rejected) {
			expect([r.status, r.body.error.code, r.headers.get("retry-after")]).toEqual([503, "OVERLOADED", "1"]);
		}
	});
});

describe("a send the client gave up on", () => {
	let gochat: RunningGoChat;
	let api: Api;

	beforeAll(async () => {
		gochat = await startGoChat({ SEND_TIMEOUT_MS: "300" });
		api = new Api(gochat.baseUrl);
	});
	afterAll(() => gochat.stop());

	test("is answered 503 at its deadline and never stored later; the resend is stored once", async () => {
		const [gil, hal] = [await register(api, "gil"), await register(api, "hal")];
		const id = await direct(gil, hal);
		const socket = await connect(gochat.baseUrl, gil.accessToken);
		try {
			// Hold the next message INSERT until the client has had its answer.
			const hold = holdNextMessageInsert(gochat);
			const started = Date.now();
			const ack = await sendOver(socket, id, "slow-1", "too late");
			expect(ack).toMatchObject({ ok: false, error: { code: "SERVICE_UNAVAILABLE" } });
			expect(Date.now() - started).toBeLessThan(2000);
			await hold.release();

			const resent = await sendOver(socket, id, "slow-1", "too late");
			expect(resent).toMatchObject({ ok: true, message: { seq: 1, content: "too late" } });
			expect((await historyOf(hal, id)).map(m => m.clientMsgId)).toEqual(["slow-1"]);
		} finally {
			socket.close();
		}
	});
});
