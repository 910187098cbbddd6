import type { ChatMessage, GoChatClient } from "../sdk";
import { el, reason } from "../dom";
import type { Names } from "../names";

/** Close enough to the bottom to follow new messages. */
const FOLLOW_PX = 80;
/** Close enough to the top to load older ones. */
const TOP_PX = 48;
const PAGE = 50;

export interface MessageList {
	show(conversationId: string, withSenders: boolean): void;
	render(): void;
	relabel(userId: string, name: string): void;
	clear(): void;
}

/** Stable across pending → sent (the id and seq come later; the sender's clientMsgId does not change). */
const keyOf = (m: ChatMessage) => `${m.senderId}:${m.clientMsgId}`;
const signatureOf = (m: ChatMessage) => `${m.status}|${m.seq}|${m.error?.code ?? ""}|${m.content}`;

function timeOf(iso: string): string {
	const date = new Date(iso);
	return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** One conversation's messages, with scroll-back: reaching the top (or the button) loads older ones in place. */
export function mountMessageList(
	chat: GoChatClient,
	names: Names,
	list: HTMLElement,
	loadOlderButton: HTMLButtonElement
): MessageList {
	const items = list.querySelector("ol") as HTMLOListElement;
	// Why the last scroll-back failed, under the button (which stays, so the next try is one click away).
	const loadError = el("p", { class: "error load-error", role: "alert" });
	loadOlderButton.after(loadError);
	const nodes = new Map<string, { item: HTMLLIElement; signature: string }>();
	let conversationId: string | null = null;
	let withSenders = false;
	// Per conversation: a load still running for the one left must not block the one opened.
	let loadingFor: string | null = null;

	const fill = (item: HTMLLIElement, m: ChatMessage, mine: boolean) => {
		item.dataset.status = m.status;
		item.dataset.seq = m.seq === null ? "" : String(m.seq);
		const status = m.status === "pending" ? "Sending…" : m.status === "failed" ? "Not sent" : timeOf(m.createdAt);
		const parts: HTMLElement[] = [];
		if (withSenders && !mine) {
			parts.push(el("span", { class: "sender", "data-user-id": m.senderId }, names.of(m.senderId)));
		}
		parts.push(el("p", { testid: "message-content", class: "content" }, m.content));
		parts.push(el("span", { class: "meta" }, status));
		if (m.status === "failed") {
			const error = m.error ? `${m.error.message} (${m.error.code})` : "Not sent";
			const retry = el("button", { type: "button", testid: "message-retry" }, "Retry");
			retry.addEventListener("click", () => chat.retry(m.clientMsgId));
			const discard = el("button", { type: "button", testid: "message-discard", class: "link" }, "Discard");
			discard.addEventListener("click", () => chat.discard(m.clientMsgId));
			parts.push(el("p", { testid: "message-error", class: "error", role: "alert" }, error), retry, discard);
		}
		item.replaceChildren(...parts);
	};

	const render = (): void => {
		if (!conversationId) return;
		const messages = chat.messages(conversationId);
		const me = chat.user?.id;
		const firstBefore = items.firstElementChild;
		const lastBefore = items.lastElementChild;
		const fromBottom = list.scrollHeight - list.scrollTop;
		const following = fromBottom - list.clientHeight < FOLLOW_PX;
		const seen = new Set<string>();
		messages.forEach((m, index) => {
			const key = keyOf(m);
			seen.add(key);
			const mine = m.senderId === me;
			let node = nodes.get(key);
			if (!node) {
				const item = el("li", {
					testid: "message",
					class: mine ? "message mine" : "message",
					"data-client-msg-id": m.clientMsgId,
					"data-mine": String(mine)
				});
				node = { item, signature: "" };
				nodes.set(key, node);
			}
			const signature = signatureOf(m);
			if (node.signature !== signature) {
				fill(node.item, m, mine);
				node.signature = signature;
			}
			if (items.children[index] !== node.item) items.insertBefore(node.item, items.children[index] ?? null);
		});
		for (const [key, node] of nodes) {
			if (seen.has(key)) continue;
			node.item.remove();
			nodes.delete(key);
		}
		loadOlderButton.hidden = !chat.hasOlder(conversationId);

		const last = items.lastElementChild as HTMLElement | null;
		const prepended = items.firstElementChild !== firstBefore && firstBefore !== null;
		const appended = last !== lastBefore;
		// Older messages above keep the view where it was; otherwise stay at the bottom if we were there.
		if (prepended) list.scrollTop = list.scrollHeight - fromBottom;
		else if (following || (appended && last?.dataset.mine === "true")) list.scrollTop = list.scrollHeight;
	};

	const loadOlder = async (): Promise<void> => {
		const id = conversationId;
		if (!id || loadingFor === id || !chat.hasOlder(id)) return;
		loadingFor = id;
		loadOlderButton.disabled = true;
		let added = 0;
		try {
			({ added } = await chat.loadOlder(id, PAGE));
			if (conversationId === id) loadError.textContent = "";
		} catch (err) {
			if (conversationId === id) loadError.textContent = `Could not load older messages: ${reason(err)}`;
			return;
		} finally {
			if (loadingFor === id) loadingFor = null;
			loadOlderButton.disabled = false;
		}
		if (conversationId !== id) return;
		render();
		// A short history does not fill the list, so no scroll would ever reach the top: keep loading
		// (while pages bring something: an empty one must not loop).
		if (added > 0 && list.scrollHeight <= list.clientHeight && chat.hasOlder(id)) await loadOlder();
	};

	// Whether the user is at the newest messages: a smaller window (a rotated phone, a panel
	// opening above) must keep them in view rather than cut the last one off.
	let atBottom = true;
	list.addEventListener("scroll", () => {
		atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < FOLLOW_PX;
		if (list.scrollTop < TOP_PX) void loadOlder();
	});
	new ResizeObserver(() => {
		if (conversationId && atBottom) list.scrollTop = list.scrollHeight;
	}).observe(list);
	loadOlderButton.addEventListener("click", () => void loadOlder());

	return {
		show(id, senders) {
			conversationId = id;
			loadError.textContent = "";
			withSenders = senders;
			nodes.clear();
			items.replaceChildren();
			render();
			list.scrollTop = list.scrollHeight;
			atBottom = true;
			if (chat.messages(id).length < PAGE || list.scrollHeight <= list.clientHeight) void loadOlder();
		},
		render,
		relabel(userId, name) {
			for (const label of items.querySelectorAll<HTMLElement>(`.sender[data-user-id="${CSS.escape(userId)}"]`)) {
				label.textContent = name;
			}
		},
		clear() {
			conversationId = null;
			nodes.clear();
			items.replaceChildren();
		}
	};
}
