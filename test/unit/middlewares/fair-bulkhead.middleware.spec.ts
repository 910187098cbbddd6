import { Context, Errors, ServiceBroker } from "moleculer";
import { GoChatError, toHttpError } from "../../../lib/errors";
import { FairBulkhead, FairBulkheadMiddleware } from "../../../middlewares/fair-bulkhead.middleware";

/** A task the test finishes by hand, recording that it started. */
function gate(started: string[], name: string) {
	let finish!: () => void;
	let failWith!: (err: Error) => void;
	const done = new Promise<string>((resolve, reject) => {
		finish = () => resolve(name);
		failWith = reject;
	});
	return { task: () => (started.push(name), done), finish, failWith };
}

const refusals = {
	keyFull: () => new Error("key full"),
	full: () => new Error("full"),
	expired: () => new Error("expired")
};
const settle = () => new Promise(resolve => setImmediate(resolve));

describe("FairBulkhead", () => {
	test("runs up to `concurrency` at once and hands each freed slot to the next key in turn", async () => {
		const started: string[] = [];
		const bulkhead = new FairBulkhead({ concurrency: 2, maxQueueSize: 100, maxQueuePerKey: 50 }, refusals);
		const gates = new Map<string, ReturnType<typeof gate>>();
		const run = (key: string, name: string) => {
			const g = gate(started, name);
			gates.set(name, g);
			return bulkhead.run(key, Infinity, g.task);
		};
		const flood = Array.from({ length: 20 }, (_, i) => run("flood", `f${i}`));
		const polite = run("polite", "p0");
		expect(started).toEqual(["f0", "f1"]);
		expect([bulkhead.inFlight, bulkhead.queued]).toEqual([2, 19]);

		gates.get("f0")!.finish();
		await settle();
		gates.get("f1")!.finish();
		await settle();
		// One flood item took the first free slot, the polite key the second: not 18 items later.
		expect(started).toEqual(["f0", "f1", "f2", "p0"]);
		gates.get("p0")!.finish();
		await expect(polite).resolves.toBe("p0");

		for (let i = 2; i < 20; i++) {
			gates.get(`f${i}`)!.finish();
			await settle();
		}
		await expect(Promise.all(flood)).resolves.toHaveLength(20);
		expect([bulkhead.inFlight, bulkhead.queued]).toEqual([0, 0]);
	});

	test("refuses past a key's own queue first, and past the total queue for anyone", async () => {
		const started: string[] = [];
		const bulkhead = new FairBulkhead({ concurrency: 1, maxQueueSize: 3, maxQueuePerKey: 2 }, refusals);
		const first = gate(started, "a0");
		const running = bulkhead.run("a", Infinity, first.task);
		bulkhead.run("a", Infinity, gate(started, "a1").task);
		bulkhead.run("a", Infinity, gate(started, "a2").task);
		await expect(bulkhead.run("a", Infinity, gate(started, "a3").task)).rejects.toThrow("key full");
		bulkhead.run("b", Infinity, gate(started, "b1").task);
		await expect(bulkhead.run("c", Infinity, gate(started, "c1").task)).rejects.toThrow(/^full$/);
		expect(started).toEqual(["a0"]);
		first.failWith(new Error("boom"));
		await expect(running).rejects.toThrow("boom");
		// A failed call frees its slot like any other.
		expect(started).toEqual(["a0", "a1"]);
	});

	test("a call whose caller gave up while it waited is dropped at its turn, never run, and makes room", async () => {
		let now = 0;
		const started: string[] = [];
		const bulkhead = new FairBulkhead(
			{ concurrency: 1, maxQueueSize: 10, maxQueuePerKey: 2 },
			refusals,
			undefined,
			() => now
		);
		const first = gate(started, "a0");
		bulkhead.run("a", Infinity, first.task);
		const late = bulkhead.run("a", 100, gate(started, "late").task);
		bulkhead.run("b", 1000, gate(started, "onTime").task);
		bulkhead.run("a", 100, gate(started, "late2").task).catch(() => undefined);
		now = 150;
		// "a" is full of calls nobody waits for any more: they go, the new one waits.
		bulkhead.run("a", 1000, gate(started, "fresh").task);
		await expect(late).rejects.toThrow("expired");
		first.finish();
		await settle();
		expect(started).toEqual(["a0", "onTime"]);
		expect(bulkhead.queued).toBe(1);
	});

	test("a task that throws at once still frees its slot", async () => {
		const bulkhead = new FairBulkhead({ concurrency: 1, maxQueueSize: 10, maxQueuePerKey: 10 }, refusals);
		await expect(
			bulkhead.run("a", Infinity, () => {
				throw new Error("sync");
			})
		).rejects.toThrow("sync");
		await expect(bulkhead.run("a", Infinity, async () => "next")).resolves.toBe("next");
		expect(bulkhead.inFlight).toBe(0);
	});

	test("reports the running and waiting counts after each change", async () => {
		const seen: Array<[number, number]> = [];
		const bulkhead = new FairBulkhead({ concurrency: 1, maxQueueSize: 10, maxQueuePerKey: 10 }, refusals, (r, w) =>
			seen.push([r, w])
		);
		const started: string[] = [];
		const a = gate(started, "a");
		const runs = [bulkhead.run("k", Infinity, a.task), bulkhead.run("k", Infinity, async () => "b")];
		a.finish();
		await Promise.all(runs);
		expect(seen[seen.length - 1]).toEqual([0, 0]);
		expect(Math.max(...seen.map(([, w]) => w))).toBe(1);
	});
});

describe("FairBulkheadMiddleware on a broker", () => {
	let broker: ServiceBroker;
	const releases: Array<() => void> = [];
	let ran: string[] = [];

	beforeAll(async () => {
		broker = new ServiceBroker({ logger: false, middlewares: [FairBulkheadMiddleware() as never] });
		broker.createService({
			name: "work",
			actions: {
				fair: {
					params: { id: "string" },
					// Far above what a test needs on a loaded machine: a call times out only when it asks to.
					timeout: 10_000,
					fairBulkhead: {
						concurrency: 1,
						maxQueueSize: 3,
						maxQueuePerKey: 2,
						key: (ctx: Context<unknown, { userId?: string }>) => ctx.meta.userId
					},
					handler(ctx: Context<{ id: string }>) {
						ran.push(ctx.params.id);
						return new Promise<string>(resolve => releases.push(() => resolve(ctx.params.id)));
					}
				},
				plain: { handler: () => "plain" }
			}
		});
		await broker.start();
	});
	afterAll(() => broker.stop());
	beforeEach(() => {
		ran = [];
	});

	const call = (id: string, userId: string, timeout?: number) =>
		broker.call<string, { id: string }>("work.fair", { id }, { meta: { userId }, timeout });
	const releaseAll = async () => {
		while (releases.length > 0) {
			releases.shift()!();
			await settle();
		}
	};

	test("one key past its queue gets RATE_LIMITED with retryAfter; past the total, OVERLOADED", async () => {
		const calls = [call("a0", "a"), call("a1", "a"), call("a2", "a")];
		const refused = await call("a3", "a").catch(err => err);
		expect(refused).toBeInstanceOf(GoChatError);
		expect(toHttpError(refused)).toMatchObject({
			status: 429,
			body: { error: { code: "RATE_LIMITED", details: { retryAfter: 1 } } }
		});

		const b = call("b0", "b");
		const full = await call("c0", "c").catch(err => err);
		expect(full).toBeInstanceOf(Errors.QueueIsFullError);
		expect(toHttpError(full)).toMatchObject({
			status: 503,
			body: { error: { code: "OVERLOADED", details: { retryAfter: 1 } } }
		});

		await releaseAll();
		await expect(Promise.all([...calls, b])).resolves.toEqual(["a0", "a1", "a2", "b0"]);
		// The second slot went to b, ahead of a's second waiting call.
		expect(ran).toEqual(["a0", "a1", "b0", "a2"]);
	});

	test("invalid params are refused before they take a place in the queue", async () => {
		const holding = [call("h0", "a"), call("h1", "a"), call("h2", "a")];
		const invalid = await broker.call("work.fair", { id: 5 }, { meta: { userId: "a" } }).catch(err => err);
		expect(invalid).toBeInstanceOf(Errors.ValidationError);
		await releaseAll();
		await Promise.all(holding);
	});

	test("a call that timed out while waiting is answered by the timeout and never runs", async () => {
		const first = call("t0", "a");
		const waited = await call("t1", "b", 200).catch(err => err);
		expect(waited).toBeInstanceOf(Errors.RequestTimeoutError);
		await releaseAll();
		await first.catch(() => undefined);
		await settle();
		expect(ran).toEqual(["t0"]);
	});

	test("actions that do not declare it are not wrapped", async () => {
		await expect(broker.call("work.plain")).resolves.toBe("plain");
	});
});
