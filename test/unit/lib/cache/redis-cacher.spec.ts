import { ServiceBroker } from "moleculer";
import { RedisCacher } from "../../../../lib/cache/redis-cacher";

describe("RedisCacher", () => {
	test("a cache write to an unreachable Redis resolves: the action's answer was already given", async () => {
		// Nothing listens on port 1; without an offline queue every command fails at once.
		const cacher = new RedisCacher({
			redis: {
				host: "127.0.0.1",
				port: 1,
				enableOfflineQueue: false,
				maxRetriesPerRequest: 0,
				retryStrategy: () => null
			}
		});
		const broker = new ServiceBroker({ logger: false, cacher });
		cacher.init(broker);
		await expect(cacher.set("answer", { ok: true }, 60)).resolves.toBeUndefined();
		(cacher.client as { disconnect(): void }).disconnect();
	});
});
