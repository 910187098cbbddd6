import { REST_ROUTES } from "../../lib/contracts/client";
import type { HistoryParams, RestAction, RestActions, SendParams, UpdateMeParams } from "../../lib/contracts/client";
import type { MemberRole } from "../../lib/types";
import { GoChatError } from "./errors";
import type { Session } from "./session";

type Params<A extends RestAction> = RestActions[A]["params"];
type Result<A extends RestAction> = Promise<RestActions[A]["result"]>;

/**
 * Typed REST over the session's tokens: `request(action, params)` for every route of REST_ROUTES,
 * and a named method per route. A request refused because its token expired is retried once
 * with a fresh one.
 */
export class Api {
	constructor(private readonly session: Session) {}

	readonly users = {
		me: () => this.request("users.me", {}).then(r => this.keepProfile(r)),
		updateMe: (params: UpdateMeParams) => this.request("users.updateMe", params).then(r => this.keepProfile(r)),
		get: (id: string) => this.request("users.get", { id }),
		search: (q: string, limit?: number) => this.request("users.search", { q, limit })
	};

	readonly conversations = {
		list: (page: Params<"conversations.list"> = {}) => this.request("conversations.list", page),
		openDirect: (userId: string) => this.request("conversations.openDirect", { userId }),
		markRead: (conversationId: string, seq: number) =>
			this.request("conversations.markRead", { conversationId, seq })
	};

	readonly messages = {
		history: (conversationId: string, page: Omit<HistoryParams, "conversationId"> = {}) =>
			this.request("messages.history", { ...page, conversationId }),
		send: (params: SendParams) => this.request("messages.send", params)
	};

	readonly presence = {
		/** Which of these users (at most 100) are online; null for those you have no 1:1 with. */
		query: (userIds: string[]) => this.request("presence.query", { userIds: userIds.join(",") })
	};

	readonly groups = {
		create: (name: string, memberIds?: string[]) => this.request("groups.create", { name, memberIds }),
		get: (id: string) => this.request("groups.get", { id }),
		members: (id: string, page: Omit<Params<"groups.members">, "id"> = {}) =>
			this.request("groups.members", { ...page, id }),
		addMembers: (id: string, userIds: string[]) => this.request("groups.addMembers", { id, userIds }),
		removeMember: (id: string, userId: string) => this.request("groups.removeMember", { id, userId }),
		setRole: (id: string, userId: string, role: Exclude<MemberRole, "owner">) =>
			this.request("groups.setRole", { id, userId, role }),
		leave: (id: string) => this.request("groups.leave", { id }),
		block: (id: string) => this.request("groups.block", { id }),
		unblock: (id: string) => this.request("groups.unblock", { id })
	};

	/** Calls `action`'s route; answers its result or throws a GoChatError. */
	async request<A extends RestAction>(action: A, params: Params<A>): Result<A> {
		const http = this.session.http;
		if (REST_ROUTES[action].public) return http.call(action, params);
		const token = await this.session.accessToken();
		try {
			return await http.call(action, params, token);
		} catch (err) {
			if (!(err instanceof GoChatError) || err.status !== 401) throw err;
			return http.call(action, params, await this.tokenAfter(err, token));
		}
	}

	/** The token to retry a request with after a 401, or the reason not to retry. */
	private async tokenAfter(refusal: GoChatError, used: string): Promise<string> {
		// A refresh or sign-in finished while the request was out: the newer token may do.
		const current = this.session.currentToken;
		if (current !== null && current !== used) return this.session.accessToken();
		// TOKEN_INVALID too: a server whose signing key changed still honours the refresh token.
		if (refusal.code === "TOKEN_EXPIRED" || refusal.code === "TOKEN_INVALID") return this.session.refreshNow();
		if (refusal.code === "TOKEN_REVOKED") this.session.end("revoked");
		throw refusal;
	}

	private keepProfile<R extends { user: Parameters<Session["updateUser"]>[0] }>(result: R): R {
		this.session.updateUser(result.user);
		return result;
	}
}
