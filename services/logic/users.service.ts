import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call, serviceActions } from "../../lib/contracts";
import type { UpdateMeParams } from "../../lib/contracts/logic";
import { fail } from "../../lib/errors";
import { NO_RETRY } from "../../lib/resilience";
import { AuthMeta, GROUP_ADD_POLICIES, OwnProfile, User } from "../../lib/types";
import { avatarUrlRule, displayNameRule, enumRule, idRule, pageLimitRule, refuseNull } from "../../lib/validation";

type UsersThis = Service;
type AuthedContext<P = unknown> = Context<P, Required<AuthMeta>>;

/** Profiles: the caller's own (with their settings), anyone's by ID, and a username prefix search. */
const UsersService: ServiceSchema<ServiceSettingSchema, UsersThis> = {
	name: "users",

	actions: serviceActions("users", {
		me: {
			params: {},
			async handler(this: UsersThis, ctx: AuthedContext): Promise<{ user: OwnProfile }> {
				const user = await call(ctx, "repo.users.getOwn", { id: ctx.meta.userId });
				if (!user) fail("USER_NOT_FOUND", "Your account no longer exists");
				return { user };
			}
		},

		updateMe: {
			retryPolicy: NO_RETRY,
			params: {
				displayName: { ...displayNameRule, optional: true },
				avatarUrl: { ...avatarUrlRule, optional: true, nullable: true },
				groupAddPolicy: { ...enumRule(GROUP_ADD_POLICIES), optional: true }
			},
			async handler(this: UsersThis, ctx: AuthedContext<UpdateMeParams>): Promise<{ user: OwnProfile }> {
				// null clears the avatar; a name or a policy has no "none".
				refuseNull(ctx.params, ["displayName", "groupAddPolicy"]);
				const { displayName, avatarUrl, groupAddPolicy } = ctx.params;
				if (displayName === undefined && avatarUrl === undefined && groupAddPolicy === undefined) {
					fail("INVALID_INPUT", "Give displayName, avatarUrl or groupAddPolicy to change");
				}
				const user = await call(ctx, "repo.users.update", {
					id: ctx.meta.userId,
					displayName,
					avatarUrl,
					groupAddPolicy
				});
				if (!user) fail("USER_NOT_FOUND", "Your account no longer exists");
				return { user };
			}
		},

		get: {
			params: { id: idRule },
			async handler(this: UsersThis, ctx: AuthedContext<{ id: string }>): Promise<{ user: User }> {
				const user = await call(ctx, "repo.users.get", { id: ctx.params.id });
				if (!user) fail("USER_NOT_FOUND", "No such user");
				return { user };
			}
		},

		search: {
			params: {
				q: {
					type: "string",
					pattern: /^[A-Za-z0-9_]{1,32}$/,
					messages: { stringPattern: "q must be 1-32 letters, digits or underscores" }
				},
				limit: pageLimitRule(50)
			},
			async handler(
				this: UsersThis,
				ctx: AuthedContext<{ q: string; limit?: number }>
			): Promise<{ users: User[] }> {
				const users = await call(ctx, "repo.users.searchByPrefix", {
					prefix: ctx.params.q,
					limit: ctx.params.limit ?? 20
				});
				return { users };
			}
		}
	})
};

export default UsersService;
