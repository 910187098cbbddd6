import { compareIds } from "./snowflake";

/** Conversation IDs name their kind (docs/architecture.md#identifiers): single_<low>_<high>, group_<groupId>, world. */
export const WORLD_CONVERSATION_ID = "world";

export function directConversationId(a: string, b: string): string {
	const [low, high] = compareIds(a, b) <= 0 ? [a, b] : [b, a];
	return `single_${low}_${high}`;
}

export function groupConversationId(groupId: string): string {
	return `group_${groupId}`;
}

const DIRECT = /^single_(\d{1,20})_(\d{1,20})$/;
const GROUP = /^group_(\d{1,20})$/;

export type ParsedConversationId =
	{ type: "direct"; userIds: [string, string] } | { type: "group"; groupId: string } | { type: "world" };

export function parseConversationId(id: string): ParsedConversationId | null {
	if (id === WORLD_CONVERSATION_ID) return { type: "world" };
	const direct = DIRECT.exec(id);
	if (direct) return { type: "direct", userIds: [direct[1], direct[2]] };
	const group = GROUP.exec(id);
	if (group) return { type: "group", groupId: group[1] };
	return null;
}
