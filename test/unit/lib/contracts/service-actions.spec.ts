import type { Context } from "moleculer";
import { serviceActions, type Params } from "../../../../lib/contracts";

/**
 * The contracts are checked by tsc (npm run build, CI's type check): each `@ts-expect-error` below
 * must meet an error, or this file stops compiling. The test itself only shows the happy case runs.
 */
describe("serviceActions", () => {
	test("an action matching its contract is accepted and returned as the service's actions", () => {
		const actions = serviceActions("repo.sessions", {
			revoke: {
				params: { id: "string" },
				handler(ctx: Context<Params<"repo.sessions.revoke">>): boolean {
					return ctx.params.id.length > 0;
				}
			}
		});
		expect(Object.keys(actions)).toEqual(["revoke"]);
	});

	test("drift between an action and its contract fails the type check", () => {
		serviceActions("repo.sessions", {
			revoke: {
				// @ts-expect-error a params field the contract does not have
				params: { id: "string", force: "boolean" },
				handler: () => true
			}
		});
		serviceActions("repo.sessions", {
			revoke: {
				// @ts-expect-error a params field of the contract is missing
				params: {},
				handler: () => true
			}
		});
		serviceActions("repo.sessions", {
			revoke: {
				params: { id: "string" },
				// @ts-expect-error the handler reads a field the contract does not send
				handler(ctx: Context<{ id: string; force: boolean }>) {
					return ctx.params.force;
				}
			}
		});
		serviceActions("repo.sessions", {
			revoke: {
				params: { id: "string" },
				// @ts-expect-error the handler returns another type than the contract's result
				handler: () => "revoked"
			}
		});
		serviceActions("repo.sessions", {
			// @ts-expect-error an action that is not in the contracts
			revokeEverything: { params: {}, handler: () => true }
		});
		expect(true).toBe(true);
	});
});
