import type { GoChatClient, User } from "../sdk";
import { debounce, el, reason } from "../dom";
import type { Names } from "../names";

/** What users.search accepts: a username prefix of 1-32 letters, digits or _. */
const QUERY = /^[A-Za-z0-9_]{1,32}$/;

export interface UserSearchOptions {
	label: string;
	inputTestId: string;
	resultTestId: string;
	/** When given, results are toggles showing whether the user is selected. */
	selected?: { has(userId: string): boolean };
	onPick(user: User): void;
}

export interface UserSearch {
	root: HTMLElement;
	input: HTMLInputElement;
	/** Re-draws the results (after the selection changed). */
	redraw(): void;
	/** Empties the box and the results. */
	reset(): void;
}

/** A search box over users.search, debounced; the answer to an older query never replaces a newer one. */
export function userSearch(chat: GoChatClient, names: Names, options: UserSearchOptions): UserSearch {
	const id = `${options.inputTestId}-${Math.random().toString(36).slice(2, 8)}`;
	const input = el("input", {
		id,
		testid: options.inputTestId,
		type: "search",
		autocomplete: "off",
		autocapitalize: "none",
		spellcheck: "false",
		placeholder: "Username"
	});
	const status = el("p", { class: "hint", role: "status" });
	const results = el("ul", { class: "results" });
	let users: User[] = [];
	let asked = 0;

	const redraw = () => {
		results.replaceChildren(
			...users.map(user => {
				const picked = options.selected?.has(user.id);
				const button = el(
					"button",
					{
						type: "button",
						testid: options.resultTestId,
						"data-user-id": user.id,
						"aria-pressed": options.selected ? String(Boolean(picked)) : undefined
					},
					el("span", { class: "name" }, user.displayName),
					" ",
					el("span", { class: "handle" }, `@${user.username}`)
				);
				button.addEventListener("click", () => options.onPick(user));
				return el("li", {}, button);
			})
		);
	};

	const search = debounce(async (q: string) => {
		const ticket = ++asked;
		try {
			const found = await chat.api.users.search(q, 20);
			if (ticket !== asked) return;
			users = found.users.filter(user => user.id !== chat.user?.id);
			users.forEach(user => names.remember(user));
			status.textContent = users.length ? "" : "No user found.";
			redraw();
		} catch (err) {
			if (ticket === asked) status.textContent = `Search failed: ${reason(err)}`;
		}
	}, 250);

	const reset = () => {
		asked++;
		users = [];
		status.textContent = "";
		redraw();
	};

	input.addEventListener("input", () => {
		const q = input.value.trim().replace(/^@/, "");
		if (!q) {
			reset();
			return;
		}
		if (!QUERY.test(q)) {
			asked++;
			status.textContent = "Usernames have letters, digits and _ only.";
			return;
		}
		status.textContent = "Searching…";
		search(q);
	});

	const root = el("div", { class: "search" }, el("label", { for: id }, options.label), input, status, results);
	return {
		root,
		input,
		redraw,
		reset() {
			input.value = "";
			reset();
			input.focus();
		}
	};
}
