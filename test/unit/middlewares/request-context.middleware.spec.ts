import { Context, ServiceBroker } from "moleculer";
import {
	currentRequestId,
	RequestContextMiddleware,
	runWithRequestId
} from "../../../middlewares/request-context.middleware";

/** Two nodes over Moleculer's in-memory transporter: a caller and a worker that reports the request it runs for. */
describe("RequestContextMiddleware", () => {
	const namespace = `rc-${process.pid}`;
	const node = (nodeID: string) =>
		new ServiceBroker({
			nodeID,
			namespace,
			logger: false,
			transporter: "Fake",
			middlewares: [RequestContextMiddleware()] as never
		});
	const caller = node("caller");
	const worker = node("worker");
	const seen: Array<{ store: string | undefined; requestID: string | null }> = [];

	beforeAll(async () => {
		worker.createService({
			name: "work",
			actions: {
				async run(ctx: Context) {
					// After an await too: the store follows the handler's async work.
					await new Promise(resolve => setImmediate(resolve));
					seen.push({ store: currentRequestId(), requestID: ctx.requestID });
					return currentRequestId();
				}
			}
		});
		await Promise.all([caller.start(), worker.start()]);
		await caller.waitForServices("work");
	});
	afterAll(() => Promise.all([caller.stop(), worker.stop()]));
	beforeEach(() => (seen.length = 0));

	test("a handler on another node runs with its request's ID", async () => {
		const answer = await caller.call("work.run", {}, { requestID: "req-a" });
		expect(answer).toBe("req-a");
		expect(seen).toEqual([{ store: "req-a", requestID: "req-a" }]);
	});

	test("a root call made while a request is current continues that request", async () => {
		const answer = await runWithRequestId("req-b", () => caller.call("work.run", {}));
		expect(answer).toBe("req-b");
		expect(seen[0].requestID).toBe("req-b");
	});

	test("a root call outside any request starts one, and nothing leaks to the caller afterwards", async () => {
		const answer = await caller.call("work.run", {});
		expect(answer).toEqual(expect.any(String));
		expect(seen[0].requestID).toBe(answer);
		expect(currentRequestId()).toBeUndefined();
	});

	test("LOG_REQUEST_IDS=false leaves every handler as it is (no AsyncLocalStorage on the send path)", () => {
		expect(Object.keys(RequestContextMiddleware(false))).toEqual(["name"]);
	});
});
