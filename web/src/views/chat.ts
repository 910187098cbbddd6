import type { ClientEvents, ConversationView, GoChatClient } from "../sdk";
import { byTestId, coalesce, show } from "../dom";
import type { Names } from "../names";
import { peerOf, presenceOf, showPresence } from "./conversation-list";
import { mountMessageList } from "./messages";

/** The width from which the list and the chat show side by side (styles.css). */
const WIDE = matchMedia("(min-width: 701px)");

/** How long "X is typing…" stays after the last typing event (senders repeat it every 3 s while typing). */
export const TYPING_SHOW_MS = 4000;

export interface ChatView {
	readonly openId: string | null;
	open(id: string, notice?: string): void;
	close(): void;
	/** The conversation list or a read position changed: header, unread, read. */
	refresh(): void;
	onMessage(event: ClientEvents["message"]): void;
	onTyping(event: ClientEvents["typing"]): void;
	relabel(userId: string, name: string): void;
	/** Marks the open conversation read when it is on screen. */
	readIfVisible(): void;
}

function typingText(names: string[]): string {
	if (names.length === 1) return `${names[0]} is typing…`;
	if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
	return "Several people are typing…";
}

/** The open conversation: header, messages, typing line and composer. */
export function mountChat(chat: GoChatClient, names: Names, pane: HTMLElement): ChatView {
	const view = pane.querySelector("#chat-view") as HTMLElement;
	const empty = pane.querySelector("#chat-empty") as HTMLElement;
	const notice = pane.querySelector("#chat-notice") as HTMLElement;
	const title = byTestId("chat-title", pane);
	const presence = byTestId("chat-presence", pane);
	const addMember = byTestId("group-add-member", pane);
	const typing = byTestId("typing-indicator", pane);
	const input = byTestId<HTMLTextAreaElement>("composer-input", pane);
	const composer = pane.querySelector("#composer") as HTMLFormElement;
	const messages = mountMessageList(
		chat,
		names,
		byTestId("message-list", pane),
		byTestId<HTMLButtonElement>("load-older", pane)
	);
	// A sync delivers many messages at once: one render after the burst.
	const renderMessages = coalesce(() => messages.render());
	const typists = new Map<string, ReturnType<typeof setTimeout>>();
	let openId: string | null = null;
	let reading = false;

	const current = (): ConversationView | undefined => chat.conversations().find(c => c.id === openId);

	const renderTyping = () => {
		const text = typists.size ? typingText([...typists.keys()].map(id => names.of(id))) : "";
		typing.textContent = text;
		show(typing, text !== "");
	};
	const stopTyping = (userId: string) => {
		clearTimeout(typists.get(userId));
		if (typists.delete(userId)) renderTyping();
	};
	const clearTyping = () => {
		for (const userId of [...typists.keys()]) stopTyping(userId);
	};

	const renderHeader = () => {
		const conversation = current();
		if (!openId) return;
		title.textContent = conversation?.title ?? "";
		const peer = peerOf(openId, chat.user?.id);
		show(presence, peer !== null);
		if (peer !== null) {
			const state = presenceOf(chat, openId);
			showPresence(presence, state);
			presence.textContent = state === "unknown" ? "" : state;
		}
		show(addMember, openId.startsWith("group_"));
	};

	const readIfVisible = () => {
		const conversation = current();
		if (!conversation || reading || view.hidden || document.visibilityState !== "visible") return;
		if (conversation.unreadCount === 0) return;
		reading = true;
		const target = conversation.lastSeq;
		chat.markRead(conversation.id, target).then(
			() => {
				reading = false;
				// Messages that came while the call ran are read too (only they: a stale count must not loop).
				if ((current()?.lastSeq ?? 0) > target) readIfVisible();
			},
			() => {
				reading = false;
			}
		);
	};

	composer.addEventListener("submit", event => {
		event.preventDefault();
		const content = input.value;
		if (!openId || !content.trim()) return;
		chat.send(openId, content);
		input.value = "";
		fitInput();
		input.focus();
	});
	input.addEventListener("keydown", event => {
		// Enter sends, Shift+Enter starts a new line; Enter that confirms an IME composition does neither.
		if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
		event.preventDefault();
		composer.requestSubmit();
	});
	// The textarea grows with its lines (CSS caps it), so Shift+Enter shows what it wrote.
	const fitInput = () => {
		input.style.height = "";
		if (input.scrollHeight > input.clientHeight)
			input.style.height = `${input.scrollHeight + input.offsetHeight - input.clientHeight}px`;
	};
	input.addEventListener("input", () => {
		fitInput();
		if (openId && input.value.trim()) chat.typing(openId);
	});
	document.addEventListener("visibilitychange", readIfVisible);

	return {
		get openId() {
			return openId;
		},
		open(id, text = "") {
			if (openId !== id) {
				input.value = "";
				fitInput();
				clearTyping();
			}
			openId = id;
			notice.textContent = text;
			show(notice, text !== "");
			show(empty, false);
			show(view, true);
			renderHeader();
			const type = current()?.type ?? (id.startsWith("single_") ? "direct" : "group");
			messages.show(id, type !== "direct");
			readIfVisible();
			// Side by side, the composer is where the user goes next; on a phone a focus would pop up the keyboard.
			if (WIDE.matches) input.focus({ preventScroll: true });
		},
		close() {
			openId = null;
			clearTyping();
			messages.clear();
			show(view, false);
			show(empty, true);
		},
		refresh() {
			renderHeader();
			renderMessages();
			readIfVisible();
		},
		onMessage(event) {
			if (event.conversationId !== openId) return;
			if (event.change === "added") stopTyping(event.message.senderId);
			renderMessages();
			readIfVisible();
		},
		onTyping(event) {
			if (event.conversationId !== openId || event.userId === chat.user?.id) return;
			clearTimeout(typists.get(event.userId));
			typists.set(
				event.userId,
				setTimeout(() => stopTyping(event.userId), TYPING_SHOW_MS)
			);
			renderTyping();
		},
		relabel(userId, name) {
			messages.relabel(userId, name);
			if (typists.has(userId)) renderTyping();
		},
		readIfVisible
	};
}
