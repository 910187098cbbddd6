import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/actions";
import { getConfig } from "../../lib/config";
import { fail } from "../../lib/errors";
import { AuthMeta, Message, MESSAGE_TYPES, MessageType } from "../../lib/types";
import { conversationIdRule, pageLimitRule, seqRule } from "../../lib/validation";
import type { MessagePage } from "../repo/messages.service";
import { createMembershipMixin, MembershipThis } from "../../mixins/membership.mixin";
import { createSnowflakeMixin, SnowflakeThis } from "../../mixins/snowflake.mixin";

type MessagesThis = Service & MembershipThis & SnowflakeThis;
type AuthedContext<P> = Context<P, Required<AuthMeta>>;

export interface SendParams {
	conversationId: string;
	clientMsgId: string;
	type: MessageType;
	content: string;
}

interface HistoryParams {
	conversationId: string;
	beforeSeq?: number;
	afterSeq?: number;
	limit?: number;
}

/**
 * The send path (DECISIONS §3): check membership, de-duplicate by the sender's clientMsgId,
 * take a Snowflake ID and the next seq, persist, and only then answer.
 */
const MessagesService: ServiceSchema<ServiceSettingSchema, MessagesThis> = {
	name: "messages",
	mixins: [createMembershipMixin(), createSnowflakeMixin()],

	actions: {
		send: {
			params: {
				conversationId: conversationIdRule,
				clientMsgId: { type: "string", min: 1, max: 64 },
				type: { type: "enum", values: MESSAGE_TYPES },
				content: { type: "string", min: 1 }
			},
			async handler(this: MessagesThis, ctx: AuthedContext<SendParams>): Promise<{ message: Message }> {
				const { conversationId, clientMsgId, type, content } = ctx.params;
				const maxBytes = getConfig().messageMaxBytes;
				if (Buffer.byteLength(content, "utf8") > maxBytes) {
					fail("MESSAGE_TOO_LARGE", `The content exceeds ${maxBytes} bytes`, { maxBytes });
				}
				await this.requireMember(ctx, conversationId);

				const senderId = ctx.meta.userId;
				const original = await call(ctx, "repo.messages.findByClientMsgId", { senderId, clientMsgId });
				if (original) {
					if (original.conversationId !== conversationId) {
						fail("CLIENT_MSG_ID_CONFLICT", "This clientMsgId was already used for another conversation");
					}
					return { message: original };
				}

				const seq = await call(ctx, "repo.messages.nextSeq", { conversationId });
				const { message } = await call(ctx, "repo.messages.insert", {
					id: this.nextId(), conversationId, senderId, type, content, seq, clientMsgId
				});
				if (message.conversationId !== conversationId) {
					fail("CLIENT_MSG_ID_CONFLICT", "This clientMsgId was already used for another conversation");
				}
				return { message };
			}
		},

		history: {
			params: {
				conversationId: conversationIdRule,
				beforeSeq: { ...seqRule, optional: true },
				afterSeq: { ...seqRule, optional: true },
				limit: pageLimitRule(200)
			},
			async handler(this: MessagesThis, ctx: AuthedContext<HistoryParams>): Promise<MessagePage> {
				const { conversationId, beforeSeq, afterSeq, limit } = ctx.params;
				await this.requireMember(ctx, conversationId);
				return call(ctx, "repo.messages.list", { conversationId, beforeSeq, afterSeq, limit: limit ?? 50 });
			}
		}
	}
};

export default MessagesService;
