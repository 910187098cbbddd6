import type { GoChatClient, GroupAddRefusal, User } from "../sdk";
import { el, reason } from "../dom";
import type { Names } from "../names";
import { userSearch } from "./search";

export interface PanelHosts {
	/** Above the conversation list: new chat, new group. */
	list: HTMLElement;
	/** Under the open conversation's header: add members. */
	chat: HTMLElement;
	newDirect: HTMLButtonElement;
	newGroup: HTMLButtonElement;
	addMember: HTMLButtonElement;
}

export interface Panels {
	/** Opens the add-members panel for this group's conversation. */
	toggleAddMembers(conversationId: string | null): void;
	closeAll(): void;
}

/** Why users were not added, in words. */
export function refusalText(refused: GroupAddRefusal[], names: Names): string {
	const why = (r: GroupAddRefusal) => (r.reason === "blocked" ? "left this group for good" : "does not accept it");
	return refused.map(r => `${names.of(r.userId)} could not be added (${why(r)}).`).join(" ");
}

/**
 * The pickers: a 1:1 by searching a user, a group with a name and members, members added later.
 * Panels are built when opened and removed when closed, so each data-testid exists once at most.
 */
export function mountPanels(
	chat: GoChatClient,
	names: Names,
	hosts: PanelHosts,
	openConversation: (id: string, notice?: string) => void
): Panels {
	let listPanel: { kind: "direct" | "group"; root: HTMLElement } | null = null;
	let chatPanel: HTMLElement | null = null;

	const frame = (title: string, close: () => void, ...children: HTMLElement[]) => {
		const closeButton = el("button", { type: "button", class: "close", "aria-label": `Close ${title}` }, "×");
		closeButton.addEventListener("click", close);
		const root = el(
			"section",
			{ class: "panel", "aria-label": title },
			el("h3", {}, title),
			closeButton,
			...children
		);
		root.addEventListener("keydown", event => {
			if (event.key === "Escape") close();
		});
		return root;
	};

	const closeList = () => {
		listPanel?.root.remove();
		listPanel = null;
		hosts.newDirect.setAttribute("aria-expanded", "false");
		hosts.newGroup.setAttribute("aria-expanded", "false");
	};
	const closeChat = () => {
		chatPanel?.remove();
		chatPanel = null;
		hosts.addMember.setAttribute("aria-expanded", "false");
	};

	const directPanel = () => {
		const status = el("p", { class: "error", role: "alert" });
		const search = userSearch(chat, names, {
			label: "Find a user by username",
			inputTestId: "user-search-input",
			resultTestId: "user-search-result",
			async onPick(user: User) {
				status.textContent = "";
				try {
					const conversation = await chat.openDirect(user.id);
					closeList();
					openConversation(conversation.id);
				} catch (err) {
					status.textContent = reason(err);
				}
			}
		});
		return { root: frame("New chat", closeList, search.root, status), focus: search.input };
	};

	const groupPanel = () => {
		const selected = new Map<string, User>();
		const nameId = "group-name";
		const name = el("input", { id: nameId, testid: "group-name-input", maxlength: "64", autocomplete: "off" });
		const summary = el("p", { class: "hint" }, "No members selected yet.");
		const status = el("p", { class: "error", role: "alert" });
		const submit = el(
			"button",
			{ type: "submit", testid: "group-create-submit", class: "primary" },
			"Create group"
		);
		const search = userSearch(chat, names, {
			label: "Add members",
			inputTestId: "group-member-search",
			resultTestId: "group-member-result",
			selected,
			onPick(user: User) {
				if (!selected.delete(user.id)) selected.set(user.id, user);
				summary.textContent = selected.size
					? `Selected: ${[...selected.values()].map(u => u.displayName).join(", ")}`
					: "No members selected yet.";
				search.redraw();
			}
		});
		const form = el(
			"form",
			{ class: "group-form" },
			el("label", { for: nameId }, "Group name"),
			name,
			search.root,
			summary,
			status,
			submit
		);
		form.addEventListener("submit", async event => {
			event.preventDefault();
			if (!name.value.trim()) {
				status.textContent = "Give the group a name.";
				return;
			}
			status.textContent = "";
			submit.disabled = true;
			try {
				const created = await chat.createGroup(name.value.trim(), [...selected.keys()]);
				closeList();
				openConversation(created.conversation.id, refusalText(created.refused, names));
			} catch (err) {
				status.textContent = reason(err);
			} finally {
				submit.disabled = false;
			}
		});
		return { root: frame("New group", closeList, form), focus: name };
	};

	const addMembersPanel = (conversationId: string) => {
		const groupId = conversationId.replace(/^group_/, "");
		const status = el("p", { class: "hint", role: "status" });
		const search = userSearch(chat, names, {
			label: "Add a member by username",
			inputTestId: "group-member-search",
			resultTestId: "group-member-result",
			async onPick(user: User) {
				status.textContent = `Adding ${user.displayName}…`;
				try {
					const { added, refused } = await chat.addMembers(groupId, [user.id]);
					// Done with that search: the panel shrinks back to the box, ready for the next name.
					if (added.length) search.reset();
					status.textContent = added.length
						? `${user.displayName} was added.`
						: refused.length
							? refusalText(refused, names)
							: `${user.displayName} is already a member.`;
				} catch (err) {
					status.textContent = reason(err);
				}
			}
		});
		return { root: frame("Add members", closeChat, search.root, status), focus: search.input };
	};

	const toggleList = (kind: "direct" | "group") => {
		const wasOpen = listPanel?.kind;
		// One panel at a time: the group and add-members panels share their search's data-testids.
		closeChat();
		closeList();
		if (wasOpen === kind) return;
		const { root, focus } = kind === "direct" ? directPanel() : groupPanel();
		listPanel = { kind, root };
		hosts.list.append(root);
		(kind === "direct" ? hosts.newDirect : hosts.newGroup).setAttribute("aria-expanded", "true");
		focus.focus();
	};

	hosts.newDirect.addEventListener("click", () => toggleList("direct"));
	hosts.newGroup.addEventListener("click", () => toggleList("group"));

	return {
		toggleAddMembers(conversationId) {
			const wasOpen = chatPanel !== null;
			closeList();
			closeChat();
			if (wasOpen || !conversationId) return;
			const { root, focus } = addMembersPanel(conversationId);
			chatPanel = root;
			hosts.chat.append(root);
			hosts.addMember.setAttribute("aria-expanded", "true");
			focus.focus();
		},
		closeAll() {
			closeList();
			closeChat();
		}
	};
}
