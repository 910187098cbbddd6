import type { ConversationView, GoChatClient } from "../sdk";
import { el } from "../dom";

/** A 1:1's other member, from its ID `single_<lower>_<higher>`. */
export function peerOf(conversationId: string, myId: string | undefined): string | null {
	const match = /^single_(\d+)_(\d+)$/.exec(conversationId);
	if (!match) return null;
	return match[1] === myId ? match[2] : match[1];
}

export type Presence = "online" | "offline" | "unknown";

/** A 1:1 peer's presence; "unknown" until the SDK's snapshot or a presence event told it. */
export function presenceOf(chat: GoChatClient, conversationId: string): Presence {
	const peer = peerOf(conversationId, chat.user?.id);
	const online = peer === null ? undefined : chat.isOnline(peer);
	return online === undefined ? "unknown" : online ? "online" : "offline";
}

/**
 * data-online stays "true|false" (unknown is not online); data-presence tells unknown apart, so the
 * dot is drawn hollow instead of claiming "offline" before the snapshot came.
 */
export function showPresence(node: HTMLElement, presence: Presence): void {
	node.dataset.online = String(presence === "online");
	node.dataset.presence = presence;
	node.title = presence === "unknown" ? "presence not known yet" : presence;
}

/** What a row shows of the last message. */
function lastText(conversation: ConversationView): string {
	const last = conversation.lastMessage;
	if (!last) return "No messages yet";
	return last.type === "text" || last.type === "system" ? last.content : `[${last.type}] ${last.content}`;
}

export interface ConversationList {
	render(): void;
	setActive(id: string | null): void;
	clear(): void;
}

/** The conversation list, newest activity first (the SDK's order), one row per conversation kept across renders. */
export function mountConversationList(
	chat: GoChatClient,
	list: HTMLElement,
	onOpen: (id: string) => void
): ConversationList {
	const rows = new Map<string, HTMLLIElement>();
	let active: string | null = null;

	const row = (conversation: ConversationView): HTMLLIElement => {
		let item = rows.get(conversation.id);
		if (!item) {
			const button = el(
				"button",
				{ type: "button", class: "row" },
				// Rows without a dot keep its room, so titles line up.
				conversation.type === "direct"
					? el("span", { testid: "presence-dot", class: "presence-dot" })
					: el("span", { class: "presence-dot none", "aria-hidden": "true" }),
				el("span", { testid: "conversation-title", class: "title" }),
				el("span", { testid: "conversation-unread", class: "unread" }),
				el("span", { testid: "conversation-last", class: "last" })
			);
			button.addEventListener("click", () => onOpen(conversation.id));
			item = el("li", { testid: "conversation-item", "data-conversation-id": conversation.id }, button);
			rows.set(conversation.id, item);
		}
		return item;
	};

	const fill = (item: HTMLLIElement, conversation: ConversationView) => {
		const part = (id: string) => item.querySelector(`[data-testid="${id}"]`) as HTMLElement;
		part("conversation-title").textContent = conversation.title;
		part("conversation-last").textContent = lastText(conversation);
		const unread = part("conversation-unread");
		unread.textContent = String(conversation.unreadCount);
		unread.hidden = conversation.unreadCount === 0;
		unread.setAttribute("aria-label", `${conversation.unreadCount} unread`);
		const dot = item.querySelector<HTMLElement>('[data-testid="presence-dot"]');
		if (dot) showPresence(dot, presenceOf(chat, conversation.id));
		if (conversation.id === active) item.setAttribute("aria-current", "true");
		else item.removeAttribute("aria-current");
	};

	const render = () => {
		const conversations = chat.conversations();
		const seen = new Set<string>();
		conversations.forEach((conversation, index) => {
			seen.add(conversation.id);
			const item = row(conversation);
			fill(item, conversation);
			// Move only rows out of place, so focus and hover survive a re-render.
			if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
		});
		for (const [id, item] of rows) {
			if (seen.has(id)) continue;
			item.remove();
			rows.delete(id);
		}
	};

	return {
		render,
		setActive(id) {
			active = id;
			render();
		},
		clear() {
			rows.clear();
			list.replaceChildren();
			active = null;
		}
	};
}
