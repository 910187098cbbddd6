import { Context, ServiceBroker } from "moleculer";
import { toHttpError } from "../../../lib/errors";
import type { AuthMeta, MemberRole } from "../../../lib/types";
import { createMembershipMixin, MembershipThis } from "../../../mixins/membership.mixin";

/** requireMember against a stand-in repo.members that records what it was asked. */
describe("membership mixin", () => {
	const broker = new ServiceBroker({ logger: false });
	const roles = new Map<string, MemberRole>();
	const asked: string[] = [];

	broker.createService({
		name: "repo.members",
		actions: {
			role(ctx: Context<{ conversationId: string; userId: string }>) {
				asked.push("role");
				return roles.get(`${ctx.params.conversationId}|${ctx.params.userId}`) ?? null;
			},
			get() {
				asked.push("get");
				return { id: "single_1_2" };
			}
		}
	});
	broker.createService({
		name: "guarded",
		mixins: [createMembershipMixin()],
		actions: {
			check(this: MembershipThis, ctx: Context<{ conversationId: string }, AuthMeta>) {
				return this.requireMember(ctx, ctx.params.conversationId);
			}
		}
	});

	beforeAll(() => broker.start());
	afterAll(() => broker.stop());
	beforeEach(() => asked.splice(0));

	const answer = (conversationId: string, userId: string) =>
		broker.call("guarded.check", { conversationId }, { meta: { userId } }).then(
			role => ({ role }),
			err => toHttpError(err)
		);

	test("a member gets their role", async () => {
		roles.set("single_1_2|1", "member");
		expect(await answer("single_1_2", "1")).toEqual({ role: "member" });
	});

	test("a non-member of an existing conversation and anyone naming a missing or malformed one hear the same, and the conversation is never read", async () => {
		const expected = {
			status: 404,
			body: {
				error: { code: "CONVERSATION_NOT_FOUND", message: "No such conversation, or you are not a member" }
			}
		};
		expect(await answer("single_1_2", "3")).toEqual(expected);
		expect(await answer("single_8_9", "3")).toEqual(expected);
		expect(await answer("nonsense", "3")).toEqual(expected);
		expect(asked).not.toContain("get");
	});
});
