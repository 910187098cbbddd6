import { performance } from "perf_hooks";
import { acquireDatabase, Database, releaseDatabase } from "../../../../lib/db/database";
import { MessageWriter, NewMessage } from "../../../../lib/db/message-writer";
import { migrateUp } from "../../../../lib/db/migrator";

/** The group-commit writer on a real (in-memory) SQLite database with the migrated schema. */
describe("MessageWriter", () => {
	let db: Database;
	let n = 0;
	const message = (overrides: Partial<NewMessage> = {}): NewMessage => ({
		id: String(1_000_000 + ++n),
		conversationId: "world",
		senderId: "7",
		type: "text",
		content: `m${n}`,
		clientMsgId: `k${n}`,
		...overrides
	});
	const lastSeq = async () => (await db.models.Conversation.findByPk("world"))!.get("lastSeq") as number;
	const stored = () => db.models.Message.count();
	/** Runs `hook` before every message INSERT the writer sends (to slow it down or make it fail). */
	const beforeInsert = (hook: () => Promise<unknown>) => {
		const sequelize = db.sequelize as unknown as { query(sql: string, ...rest: unknown[]): Promise<unknown> };
		const query = sequelize.query.bind(sequelize);
		sequelize.query = async (sql: string, ...rest: unknown[]) => {
			if (sql.startsWith("INSERT INTO messages")) await hook();
			return query(sql, ...rest);
		};
	};

	beforeEach(async () => {
		db = acquireDatabase("sqlite::memory:");
		await migrateUp(db.sequelize);
	});
	afterEach(() => releaseDatabase(db));

	test("concurrent appends share transactions and get consecutive seqs in arrival order", async () => {
		const writer = new MessageWriter(db);
		const results = await Promise.all(Array.from({ length: 50 }, () => writer.append(message())));
		expect(results.map(r => r.message.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
		expect(writer.batches).toBeLessThan(50);
		expect(await lastSeq()).toBe(50);
	});

	test("the same clientMsgId twice at once is stored once; the second gets the original", async () => {
		const writer = new MessageWriter(db);
		const first = message({ clientMsgId: "same" });
		const [a, b] = await Promise.all([
			writer.append(first),
			writer.append({ ...first, id: "99", content: "other" })
		]);
		expect(a.duplicate).toBe(false);
		expect(b).toEqual({ message: a.message, duplicate: true });
		const later = await new MessageWriter(db).append({ ...first, id: "98" });
		expect(later).toEqual({ message: a.message, duplicate: true });
		expect(await stored()).toBe(1);
	});

	test("a caller whose deadline passed is refused and nothing is stored", async () => {
		const writer = new MessageWriter(db);
		await expect(writer.append(message(), performance.now() - 1)).rejects.toMatchObject({
			type: "SERVICE_UNAVAILABLE"
		});
		expect([await stored(), await lastSeq()]).toEqual([0, 0]);
	});

	test("a deadline that passes while the batch is written rolls it back: never committed later", async () => {
		const writer = new MessageWriter(db);
		beforeInsert(() => new Promise(resolve => setTimeout(resolve, 60)));
		const late = writer.append(message(), performance.now() + 20);
		const patient = writer.append(message());
		await expect(late).rejects.toMatchObject({ type: "SERVICE_UNAVAILABLE" });
		// The patient one was in the rolled-back batch too; it goes again, alone, and takes seq 1.
		expect((await patient).message.seq).toBe(1);
		expect([await stored(), await lastSeq()]).toEqual([1, 1]);
	});

	test("a resend that joined an original which then failed is stored on its own", async () => {
		const writer = new MessageWriter(db);
		beforeInsert(() => new Promise(resolve => setTimeout(resolve, 60)));
		const original = message({ clientMsgId: "again" });
		const late = writer.append(original, performance.now() + 20);
		const resend = writer.append({ ...original, id: "97" });
		await expect(late).rejects.toMatchObject({ type: "SERVICE_UNAVAILABLE" });
		expect(await resend).toMatchObject({ duplicate: false, message: { id: "97", seq: 1 } });
		expect(await stored()).toBe(1);
	});

	test("when the database itself fails, the whole batch fails at once with a 503 error, not message by message", async () => {
		const writer = new MessageWriter(db);
		let inserts = 0;
		beforeInsert(async () => {
			inserts++;
			throw Object.assign(new Error("connect ECONNREFUSED"), { name: "SequelizeConnectionRefusedError" });
		});
		// The first append starts a batch at once; the other three queue behind it and share the next one.
		const results = await Promise.allSettled([
			writer.append(message()),
			writer.append(message()),
			writer.append(message()),
			writer.append(message())
		]);
		expect(
			results.every(
				r => r.status === "rejected" && (r.reason as Error).name === "SequelizeConnectionRefusedError"
			)
		).toBe(true);
		expect(inserts).toBe(2);
		expect(await stored()).toBe(0);
	});

	test("a message for a conversation that does not exist fails alone", async () => {
		const writer = new MessageWriter(db);
		const [bad, good] = await Promise.allSettled([
			writer.append(message({ conversationId: "group_1" })),
			writer.append(message())
		]);
		expect(bad).toMatchObject({ status: "rejected", reason: { type: "CONVERSATION_NOT_FOUND" } });
		expect(good).toMatchObject({ status: "fulfilled", value: { message: { seq: 1 } } });
	});
});
