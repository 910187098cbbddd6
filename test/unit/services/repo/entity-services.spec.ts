import type { Context, ServiceBroker } from "moleculer";
import type { Sequelize } from "sequelize";
import { call } from "../../../../lib/contracts";
import { MEMBERS_CHANGED_EVENT } from "../../../../lib/contracts/events";
import { WORLD_CONVERSATION_ID } from "../../../../lib/conversation-id";
import { cacheCleanEvent } from "../../../../mixins/cache-cleaner.mixin";
import { RunningGoChat, startGoChat } from "../../../helpers/gochat";

const ENTITY_SERVICES = [
	"repo.users",
	"repo.sessions",
	"repo.conversations",
	"repo.groups",
	"repo.messages",
	"repo.members",
	"repo.deadLetters"
];

/** The repo role alone on its own database: moleculer-db wiring, ownership of memberships, events. */
describe("repo entity services", () => {
	let gochat: RunningGoChat;
	let broker: ServiceBroker;
	let heard: Array<{ event: string; params: unknown }>;
	let n = 0;
	const ctx = () =>
		({ call: (action: string, params: unknown) => broker.call(action, params) }) as unknown as Context;
	const newUser = async (isGuest = false) => {
		const id = String(9_000_000 + ++n);
		await call(ctx(), "repo.users.create", {
			id,
			username: `u${id}`,
			usernameKey: `u${id}`,
			passwordHash: isGuest ? null : "hash",
			displayName: `U ${id}`,
			isGuest
		});
		return id;
	};

	beforeAll(async () => {
		gochat = await startGoChat({ SERVICES: "repo" });
		broker = gochat.broker;
		broker.createService({
			name: "listener",
			events: {
				"**"(this: unknown, params: unknown, _sender: string, event: string) {
					if (event === MEMBERS_CHANGED_EVENT || event.startsWith("cache.clean."))
						heard.push({ event, params });
				}
			}
		});
		await broker.waitForServices("listener");
	});
	afterAll(() => gochat.stop());
	beforeEach(() => {
		heard = [];
	});

	test("no generic moleculer-db action is reachable, and no repo action is published to the gateway", () => {
		const actions = broker.registry
			.getActionList({ onlyLocal: true, withEndpoints: false })
			.filter(a => a.name.startsWith("repo.")) as unknown as Array<{
			name: string;
			action: { visibility?: string; rest?: unknown; params?: object };
		}>;
		const names = actions.map(a => a.name);
		for (const service of ENTITY_SERVICES) {
			for (const generated of ["find", "insert"]) expect(names).not.toContain(`${service}.${generated}`);
		}
		expect(names.filter(name => name.endsWith(".count"))).toEqual(["repo.deadLetters.count"]);
		for (const { name, action } of actions) {
			expect([name, action.visibility]).toEqual([name, "public"]);
			expect([name, action.rest]).toEqual([name, undefined]);
		}
		// The contract's own create, not moleculer-db's (which takes any entity as its params).
		expect(Object.keys(actions.find(a => a.name === "repo.users.create")!.action.params!)).toHaveLength(6);
	});

	test("every entity service uses the one Sequelize instance of the process", () => {
		const instances = new Set(
			ENTITY_SERVICES.map(name => {
				const service = broker.getLocalService(name) as unknown as {
					db: { sequelize: Sequelize };
					adapter: { db: Sequelize };
				};
				expect(service.adapter.db).toBe(service.db.sequelize);
				return service.db.sequelize;
			})
		);
		instances.add(
			(broker.getLocalService("repo.database") as unknown as { db: { sequelize: Sequelize } }).db.sequelize
		);
		expect(instances.size).toBe(1);
	});

	test("a new user is in no conversation until joinWorld, which is idempotent and announces once", async () => {
		const id = await newUser();
		expect(
			await call(ctx(), "repo.members.role", { conversationId: WORLD_CONVERSATION_ID, userId: id })
		).toBeNull();
		expect(await call(ctx(), "repo.members.joinWorld", { userId: id })).toBe(true);
		expect(await call(ctx(), "repo.members.joinWorld", { userId: id })).toBe(false);
		expect(heard.filter(h => h.event === MEMBERS_CHANGED_EVENT)).toEqual([
			{ event: MEMBERS_CHANGED_EVENT, params: { conversationId: WORLD_CONVERSATION_ID, userId: id } }
		]);
		// The cached null went with the announcement.
		expect(await call(ctx(), "repo.members.role", { conversationId: WORLD_CONVERSATION_ID, userId: id })).toBe(
			"member"
		);
	});

	test("profiles keep the password hash inside repo, except for the credentials check", async () => {
		const id = await newUser();
		const user = await call(ctx(), "repo.users.get", { id });
		expect(Object.keys(user!).sort()).toEqual([
			"avatarUrl",
			"createdAt",
			"displayName",
			"id",
			"isGuest",
			"username"
		]);
		expect((await call(ctx(), "repo.users.findCredentials", { usernameKey: `u${id}` }))!.passwordHash).toBe("hash");
		expect(await call(ctx(), "repo.users.getOwn", { id })).toEqual({ ...user, groupAddPolicy: "everyone" });
		expect(await call(ctx(), "repo.users.get", { id: "1" })).toBeNull();
	});

	test("a profile change cleans that profile's cache entry in one broadcast", async () => {
		const id = await newUser();
		await call(ctx(), "repo.users.get", { id });
		heard = [];
		await call(ctx(), "repo.users.update", { id, displayName: "Renamed" });
		expect(heard).toEqual([{ event: cacheCleanEvent("repo.users"), params: { id } }]);
		expect((await call(ctx(), "repo.users.get", { id }))!.displayName).toBe("Renamed");
	});

	test("a revoked session is seen at once, and revokeForUser ends every live one", async () => {
		const userId = await newUser();
		const expiresAt = new Date(Date.now() + 3600_000).toISOString();
		for (const id of ["s-a", "s-b", "s-c"])
			await call(ctx(), "repo.sessions.create", { id, userId, refreshHash: `h-${id}`, expiresAt });
		expect((await call(ctx(), "repo.sessions.get", { id: "s-a" }))!.revokedAt).toBeNull();
		expect(await call(ctx(), "repo.sessions.revoke", { id: "s-a" })).toBe(true);
		expect((await call(ctx(), "repo.sessions.get", { id: "s-a" }))!.revokedAt).not.toBeNull();
		expect((await call(ctx(), "repo.sessions.revokeForUser", { userId })).sort()).toEqual(["s-b", "s-c"]);
		expect((await call(ctx(), "repo.sessions.get", { id: "s-b" }))!.revokedAt).not.toBeNull();
	});

	test("idle guests go in the maintenance order, and one who logged in meanwhile stays", async () => {
		const idle = await newUser(true);
		const returning = await newUser(true);
		for (const userId of [idle, returning]) await call(ctx(), "repo.members.joinWorld", { userId });
		const before = new Date(Date.now() + 1000).toISOString();
		const found = await call(ctx(), "repo.users.idleGuests", { before, limit: 100 });
		expect(found).toEqual(expect.arrayContaining([idle, returning]));
		const ids = [idle, returning];
		expect(await call(ctx(), "repo.members.leaveWorld", { userIds: ids })).toBe(2);
		await call(ctx(), "repo.sessions.removeForUsers", { userIds: ids });
		// The returning guest logs in between: a session and the world again.
		await call(ctx(), "repo.sessions.create", {
			id: "s-back",
			userId: returning,
			refreshHash: "h",
			expiresAt: before
		});
		await call(ctx(), "repo.members.joinWorld", { userId: returning });
		expect(await call(ctx(), "repo.users.removeIdleGuests", { ids, before })).toBe(1);
		expect(await call(ctx(), "repo.users.get", { id: idle })).toBeNull();
		expect(await call(ctx(), "repo.users.get", { id: returning })).not.toBeNull();
	});

	test("dead letters keep their payload as JSON, oldest first, and count follows every change", async () => {
		const payload = { message: { id: "1", content: "hi" }, userIds: ["2", "3"] };
		const first = await call(ctx(), "repo.deadLetters.add", {
			channel: "fanout.batch",
			payload,
			error: "boom",
			attempts: 5
		});
		const second = await call(ctx(), "repo.deadLetters.add", {
			channel: "fanout.message",
			payload: [1],
			error: "x",
			attempts: 1
		});
		expect(first).toEqual({
			id: expect.any(String),
			channel: "fanout.batch",
			payload,
			error: "boom",
			attempts: 5,
			createdAt: expect.any(String)
		});
		expect(await call(ctx(), "repo.deadLetters.count", {})).toBe(2);
		expect((await call(ctx(), "repo.deadLetters.list", { limit: 10 })).map(d => d.id)).toEqual([
			first.id,
			second.id
		]);
		expect(
			(await call(ctx(), "repo.deadLetters.list", { limit: 10, afterId: first.id })).map(d => d.payload)
		).toEqual([[1]]);
		expect(await call(ctx(), "repo.deadLetters.remove", { ids: [first.id] })).toBe(1);
		expect(await call(ctx(), "repo.deadLetters.count", {})).toBe(1);
	});
});
