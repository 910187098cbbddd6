/** Tiny DOM helpers. User data only ever reaches the page as text nodes or attribute values. */

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined>;

/** el("button", { testid: "logout", type: "button" }, "Log out"); `testid` sets data-testid, `false` omits. */
export function el<K extends keyof HTMLElementTagNameMap>(
	tag: K,
	attrs: Attrs = {},
	...children: Child[]
): HTMLElementTagNameMap[K] {
	const node = document.createElement(tag);
	for (const [name, value] of Object.entries(attrs)) {
		if (value === undefined || value === false) continue;
		node.setAttribute(name === "testid" ? "data-testid" : name, value === true ? "" : value);
	}
	for (const child of children) if (child) node.append(child);
	return node;
}

/** The one element with this data-testid under `root`; a missing one is a bug in index.html. */
export function byTestId<T extends HTMLElement = HTMLElement>(id: string, root: ParentNode = document): T {
	const node = root.querySelector<T>(`[data-testid="${id}"]`);
	if (!node) throw new Error(`missing [data-testid="${id}"]`);
	return node;
}

export function show(node: HTMLElement, visible: boolean): void {
	node.hidden = !visible;
}

/** Calls `fn` once `ms` passed without another call. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): (...args: A) => void {
	let timer: ReturnType<typeof setTimeout> | undefined;
	return (...args: A) => {
		clearTimeout(timer);
		timer = setTimeout(() => fn(...args), ms);
	};
}

/** Runs `fn` once after the current burst of calls (a sync delivers many events in one go). */
export function coalesce(fn: () => void): () => void {
	let queued = false;
	return () => {
		if (queued) return;
		queued = true;
		queueMicrotask(() => {
			queued = false;
			fn();
		});
	};
}

/** A readable reason from whatever a call rejected with (GoChatError carries the server's message and code). */
export function reason(err: unknown): string {
	if (err && typeof err === "object") {
		const { message, code } = err as { message?: unknown; code?: unknown };
		if (typeof message === "string" && message) return typeof code === "string" ? `${message} (${code})` : message;
	}
	return String(err);
}
