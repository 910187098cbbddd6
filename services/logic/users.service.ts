import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/actions";
import { fail } from "../../lib/errors";
import type { AuthMeta, User } from "../../lib/types";
import { displayNameRule, idRule, pageLimitRule } from "../../lib/validation";

type UsersThis = Service;
type AuthedContext<P = unknown> = Context<P, Required<AuthMeta>>;

/** Profiles: the caller's own, anyone's by ID, and a username prefix search. */
const UsersService: ServiceSchema<ServiceSettingSchema, UsersThis> = {
	name: "users",

	actions: {
		me: {
			params: {},
			async handler(this: UsersThis, ctx: AuthedContext): Promise<{ user: User }> {
				const user = await call(ctx, "repo.users.get", { id: ctx.meta.userId });
				if (!user) fail("USER_NOT_FOUND", "Your account no longer exists");
				return { user };
			}
		},

		updateMe: {
			params: {
				displayName: { ...displayNameRule, optional: true },
				avatarUrl: { type: "url", optional: true, nullable: true, max: 512 }
			},
			async handler(this: UsersThis, ctx: AuthedContext<{ displayName?: string; avatarUrl?: string | null }>): Promise<{ user: User }> {
				const { displayName, avatarUrl } = ctx.params;
				if (displayName === undefined && avatarUrl === undefined) fail("INVALID_INPUT", "Give displayName or avatarUrl to change");
				const user = await call(ctx, "repo.users.update", { id: ctx.meta.userId, displayName, avatarUrl });
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
				q: { type: "string", pattern: /^[A-Za-z0-9_]{1,32}$/, messages: { stringPattern: "q must be 1-32 letters, digits or underscores" } },
				limit: pageLimitRule(50)
			},
			async handler(this: UsersThis, ctx: AuthedContext<{ q: string; limit?: number }>): Promise<{ users: User[] }> {
				const users = await call(ctx, "repo.users.searchByPrefix", { prefix: ctx.params.q, limit: ctx.params.limit ?? 20 });
				return { users };
			}
		}
	}
};

export default UsersService;
