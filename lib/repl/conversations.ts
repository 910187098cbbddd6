import type { ServiceBroker } from "moleculer";
import { brokerConfig } from "../config";
import type { Message } from "../types";
import { GochatCommand, requireArg, UsageError } from "./cluster";
import { callFrom } from "../contracts";

export const TAIL_DEFAULT = 10;

/** The last n messages of a conversation, oldest first, within the page size clients get. */
export async function tailConversation(
	broker: ServiceBroker,
	conversationId: string,
	n = TAIL_DEFAULT
): Promise<Message[]> {
	const page = await callFrom(broker, "repo.messages.list", {
		conversationId,
		limit: n,
		maxBytes: brokerConfig(broker).pageMaxBytes
	});
	return [...page.messages].sort((a, b) => a.seq - b.seq);
}

/** An operator's system message, stored and delivered like any other. */
export function say(broker: ServiceBroker, conversationId: string, text: string): Promise<Message> {
	return callFrom(broker, "messages.say", { conversationId, text });
}

function count(raw: string | undefined): number {
	if (raw === undefined) return TAIL_DEFAULT;
	const n = Number(raw);
	if (!Number.isInteger(n) || n < 1) throw new UsageError(`[n] must be a positive whole number, not "${raw}"`);
	return n;
}

export const conversationCommands: GochatCommand[] = [
	{
		name: "tail",
		usage: "tail <conversationId> [n]",
		description: `the last n (default ${TAIL_DEFAULT}) messages of a conversation`,
		async run(broker, args) {
			const conversationId = requireArg(args, 0, "conversationId", "tail <conversationId> [n]");
			const messages = await tailConversation(broker, conversationId, count(args[1]));
			if (messages.length === 0) return [`No messages in ${conversationId}`];
			return [
				{
					table: [
						["seq", "at", "sender", "type", "content"],
						...messages.map(m => [m.seq, m.createdAt, m.senderId, m.type, m.content])
					]
				}
			];
		}
	},
	{
		name: "say",
		usage: "say <conversationId> <text>",
		description: "sends a system message to a conversation, delivered like any other",
		async run(broker, args) {
			const conversationId = requireArg(args, 0, "conversationId", "say <conversationId> <text>");
			const text = args.slice(1).join(" ");
			if (text === "") throw new UsageError("missing <text>: gochat say <conversationId> <text>");
			const message = await say(broker, conversationId, text);
			return [`Sent message ${message.id} (seq ${message.seq}) to ${conversationId}`];
		}
	}
];
