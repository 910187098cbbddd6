import { Context, ServiceBroker } from "moleculer";
import { cacheCleanEvent, createCacheCleanerMixin } from "../../../mixins/cache-cleaner.mixin";

/** The cleaner on a broker with Moleculer's memory cacher: which events drop which cached answers. */
describe("createCacheCleanerMixin", () => {
	let broker: ServiceBroker;
	let reads: string[];

	beforeEach(async () => {
		reads = [];
		broker = new ServiceBroker({ logger: false, cacher: "Memory" });
		broker.createService({
			name: "repo.members",
			mixins: [createCacheCleanerMixin({ "members.changed": ["repo.members.role"] })],
			actions: {
				role: {
					cache: { keys: ["conversationId", "userId"] },
					handler(ctx: Context<{ conversationId: string; userId: string }>) {
						reads.push(`${ctx.params.conversationId}/${ctx.params.userId}`);
						return "member";
					}
				}
			}
		});
		broker.createService({
			name: "repo.users",
			mixins: [
				createCacheCleanerMixin({ [cacheCleanEvent("repo.users")]: ["repo.users.get", "repo.users.getMany"] })
			],
			actions: {
				get: {
					cache: { keys: ["id"] },
					handler(ctx: Context<{ id: string }>) {
						reads.push(`user ${ctx.params.id}`);
						return { id: ctx.params.id };
					}
				},
				getMany: {
					cache: { keys: ["ids"] },
					handler(ctx: Context<{ ids: string[] }>) {
						reads.push(`users ${ctx.params.ids.join(",")}`);
						return ctx.params.ids.map(id => ({ id }));
					}
				}
			}
		});
		await broker.start();
	});
	afterEach(() => broker.stop());

	const role = (conversationId: string, userId: string) =>
		broker.call("repo.members.role", { conversationId, userId });
	const readAgain = async (calls: Array<() => Promise<unknown>>) => {
		reads = [];
		for (const c of calls) await c();
		return reads;
	};

	test("a conversation's change drops the cached roles of that conversation only", async () => {
		const calls = [() => role("group_1", "7"), () => role("group_1", "8"), () => role("group_2", "7")];
		await readAgain(calls);
		await broker.broadcast("members.changed", { conversationId: "group_1" });
		expect(await readAgain(calls)).toEqual(["group_1/7", "group_1/8"]);
	});

	test("a change of one member drops that member's cached role only", async () => {
		const calls = [() => role("world", "7"), () => role("world", "8")];
		await readAgain(calls);
		await broker.broadcast("members.changed", { conversationId: "world", userId: "8" });
		expect(await readAgain(calls)).toEqual(["world/8"]);
	});

	test("an entity's change drops its own entry and every list that could hold it", async () => {
		const calls = [
			() => broker.call("repo.users.get", { id: "1" }),
			() => broker.call("repo.users.get", { id: "2" }),
			() => broker.call("repo.users.getMany", { ids: ["2", "3"] })
		];
		await readAgain(calls);
		expect(await readAgain(calls)).toEqual([]);
		await broker.broadcast(cacheCleanEvent("repo.users"), { id: "1" });
		expect(await readAgain(calls)).toEqual(["user 1", "users 2,3"]);
	});

	test("an event without a payload drops every entry of the actions", async () => {
		const calls = [
			() => broker.call("repo.users.get", { id: "1" }),
			() => broker.call("repo.users.get", { id: "2" })
		];
		await readAgain(calls);
		await broker.broadcast(cacheCleanEvent("repo.users"));
		expect(await readAgain(calls)).toEqual(["user 1", "user 2"]);
	});

	test("naming an action the service does not cache fails when the service is created", () => {
		const other = new ServiceBroker({ logger: false, cacher: "Memory" });
		expect(() =>
			other.createService({
				name: "repo.users",
				mixins: [createCacheCleanerMixin({ "members.changed": ["repo.users.get"] })],
				actions: { get: () => null }
			})
		).toThrow("repo.users.get is not a cached action of repo.users");
	});

	test("without a cacher the events are harmless", async () => {
		const plain = new ServiceBroker({ logger: false });
		plain.createService({
			name: "repo.members",
			mixins: [createCacheCleanerMixin({ "members.changed": ["repo.members.role"] })],
			actions: { role: { cache: { keys: ["conversationId", "userId"] }, handler: () => "member" } }
		});
		await plain.start();
		await expect(plain.broadcast("members.changed", { conversationId: "world" })).resolves.toBeDefined();
		await plain.stop();
	});
});
