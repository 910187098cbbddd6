import type { ServiceSchema } from "moleculer";
import { toHttpError } from "../../../../lib/errors";
import type { Credentials } from "../../../../lib/contracts/repo";
import type { User } from "../../../../lib/types";
import AuthService from "../../../../services/logic/auth.service";
import { MockedService, startWithMocks } from "../../../helpers/mock-broker";

describe("auth (logic, with repo mocked)", () => {
	let svc: MockedService;
	const users = new Map<string, Credentials>();

	beforeAll(async () => {
		svc = await startWithMocks(
			AuthService as ServiceSchema,
			{
				"repo.users.create": p => {
					const user: User = {
						id: p.id,
						username: p.username,
						displayName: p.displayName,
						avatarUrl: null,
						isGuest: p.isGuest,
						createdAt: ""
					};
					users.set(p.usernameKey, { user, passwordHash: p.passwordHash });
					return user;
				},
				"repo.users.findCredentials": ({ usernameKey }) => users.get(usernameKey) ?? null,
				"repo.members.joinWorld": () => true,
				"repo.sessions.create": p => ({ ...p, revokedAt: null })
			},
			{ env: { BCRYPT_ROUNDS: "4", JWT_SECRET: "x".repeat(32) } }
		);
	});
	afterAll(() => svc.stop());
	beforeEach(() => svc.calls.splice(0));

	const repoCalls = () => svc.calls.filter(c => c.action.startsWith("repo.")).map(c => c.action);

	test("a registered account joins the world right after it is created, before its session starts", async () => {
		const { user } = await svc.call("auth.register", { username: "alice", password: "correct horse" });
		expect(repoCalls()).toEqual(["repo.users.create", "repo.members.joinWorld", "repo.sessions.create"]);
		expect(svc.callsTo("repo.members.joinWorld")).toEqual([{ userId: user.id }]);
	});

	test("a guest joins the world right after it is created", async () => {
		const { user } = await svc.call("auth.guest", {});
		expect(repoCalls()).toEqual(["repo.users.create", "repo.members.joinWorld", "repo.sessions.create"]);
		expect(svc.callsTo("repo.members.joinWorld")).toEqual([{ userId: user.id }]);
	});

	test("a login joins the world again (idempotent), healing an account that missed it", async () => {
		const { user } = await svc.call("auth.register", { username: "bob", password: "correct horse" });
		svc.calls.splice(0);
		await svc.call("auth.login", { username: "bob", password: "correct horse" });
		expect(repoCalls()).toEqual(["repo.users.findCredentials", "repo.members.joinWorld", "repo.sessions.create"]);
		expect(svc.callsTo("repo.members.joinWorld")).toEqual([{ userId: user.id }]);
	});

	test("a wrong password joins nothing and starts no session", async () => {
		const refused = await svc
			.call("auth.login", { username: "alice", password: "wrong horse" })
			.catch(err => toHttpError(err).body.error.code);
		expect(refused).toBe("INVALID_CREDENTIALS");
		expect(repoCalls()).toEqual(["repo.users.findCredentials"]);
	});
});
