import { ServiceBroker, ServiceSchema } from "moleculer";
import { ConfigMiddleware, loadConfig } from "../../../../lib/config";
import { toHttpError } from "../../../../lib/errors";
import MessagesService from "../../../../services/logic/messages.service";

/** A sync as a client sees it: the reply, or the status and error the gateway would send. */
type Outcome = { status: number; body: unknown };

describe("messages.sync admission", () => {
	let broker: ServiceBroker;
	let building = 0;
	let release: () => void = () => undefined;
	let gate = Promise.resolve();

	beforeAll(async () => {
		broker = new ServiceBroker({
			logger: false,
			middlewares: [ConfigMiddleware(loadConfig({ SYNC_PER_USER: "2" }))]
		});
		// Repo answers only when the test opens the gate, so the syncs it admitted stay in flight.
		broker.createService({
			name: "repo.conversations",
			actions: {
				listForUserById: {
					visibility: "public",
					async handler() {
						building++;
						await gate;
						return [];
					}
				}
			}
		});
		broker.createService(MessagesService as unknown as ServiceSchema);
		await broker.start();
	});
	afterAll(() => broker.stop());

	const syncAs = (userId: string): Promise<Outcome> =>
		broker.call("messages.sync", {}, { meta: { userId } }).then(
			body => ({ status: 200, body }),
			err => toHttpError(err)
		);

	async function until(condition: () => boolean) {
		for (let turns = 0; !condition(); turns++) {
			if (turns > 10_000) throw new Error("condition never held");
			await new Promise(resolve => setImmediate(resolve));
		}
	}

	test("a user's sync past SYNC_PER_USER is RATE_LIMITED; past 16 building and 64 waiting on a node, OVERLOADED; the admitted ones answer", async () => {
		gate = new Promise(resolve => {
			release = resolve;
		});
		const own = [syncAs("1"), syncAs("1")];
		expect(await syncAs("1")).toEqual({
			status: 429,
			body: {
				error: expect.objectContaining({
					code: "RATE_LIMITED",
					details: expect.objectContaining({ retryAfter: 1 })
				})
			}
		});

		// 2 + 78 syncs of other users fill the 16 slots and the 64 places in the queue.
		const others = Array.from({ length: 78 }, (_, i) => syncAs(String(100 + i)));
		await until(() => building === 16);
		const overflow = await syncAs("999");
		expect(overflow).toEqual({
			status: 503,
			body: { error: expect.objectContaining({ code: "OVERLOADED", details: { retryAfter: 1 } }) }
		});
		expect(building).toBe(16);

		release();
		for (const outcome of await Promise.all([...own, ...others])) {
			expect(outcome).toEqual({ status: 200, body: { conversations: [], nextCursor: null } });
		}
		expect(building).toBe(80);
		// Slots and per-user counts were all given back.
		expect((await syncAs("1")).status).toBe(200);
	});
});
