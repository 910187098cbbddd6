import { Locator, Page } from "playwright-core";
import { until } from "../helpers/wait";

/**
 * One user's web chat, driven only through the data-testid contract of the web chat. Every wait
 * is a Playwright locator wait (auto-retrying until the page shows it), never a fixed sleep.
 */
export class ChatPage {
	/** Uncaught errors the page threw: a working chat throws none. */
	readonly errors: string[] = [];

	constructor(
		public page: Page,
		readonly name: string
	) {
		this.watch(page);
	}

	/** Drives another page of the same user (the same browser context: the same stored tokens). */
	use(page: Page): void {
		this.page = page;
		this.watch(page);
	}

	private watch(page: Page): void {
		page.setDefaultTimeout(10_000);
		page.on("pageerror", err => this.errors.push(`${this.name}: ${err.message}`));
	}

	byTestId(testId: string): Locator {
		return this.page.getByTestId(testId);
	}

	async signUp(username: string, password: string, displayName: string): Promise<void> {
		await this.byTestId("auth-username").fill(username);
		await this.byTestId("auth-password").fill(password);
		await this.byTestId("auth-displayname").fill(displayName);
		await this.byTestId("auth-register").click();
		await this.signedInAs(displayName);
	}

	/** Fills the auth form and clicks auth-login; the caller waits for what should follow. */
	async logIn(username: string, password: string): Promise<void> {
		await this.byTestId("auth-username").fill(username);
		await this.byTestId("auth-password").fill(password);
		await this.byTestId("auth-login").click();
	}

	async continueAsGuest(displayName: string): Promise<void> {
		await this.byTestId("auth-displayname").fill(displayName);
		await this.byTestId("auth-guest").click();
		await this.signedInAs(displayName);
	}

	/** The auth screen is up and nothing of the signed-in app shows. */
	async signedOut(): Promise<void> {
		await this.byTestId("auth-login").waitFor({ state: "visible" });
		await this.byTestId("current-user").waitFor({ state: "hidden" });
		await this.byTestId("conversation-list").waitFor({ state: "hidden" });
	}

	async signedInAs(displayName: string): Promise<void> {
		await this.byTestId("current-user").filter({ hasText: displayName }).waitFor();
	}

	row(conversationId: string): Locator {
		return this.page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversationId}"]`);
	}

	/** The id of the list row titled `title`, once it is listed. */
	async conversationIdOf(title: string): Promise<string> {
		const row = this.byTestId("conversation-item").filter({
			has: this.page.getByTestId("conversation-title").getByText(title, { exact: true })
		});
		await row.waitFor();
		const id = await row.getAttribute("data-conversation-id");
		if (!id) throw new Error(`${this.name}: the row "${title}" has no data-conversation-id`);
		return id;
	}

	async open(conversationId: string, title: string): Promise<void> {
		await this.row(conversationId).click();
		await this.chatTitled(title);
	}

	async chatTitled(title: string): Promise<void> {
		await this.byTestId("chat-title").filter({ hasText: title }).waitFor();
	}

	/** new-direct → search → click the result for @username: the 1:1 opens. */
	async openDirectWith(username: string, displayName: string): Promise<void> {
		await this.byTestId("new-direct").click();
		await this.byTestId("user-search-input").fill(username);
		await this.byTestId("user-search-result")
			.filter({ hasText: `@${username}` })
			.click();
		await this.chatTitled(displayName);
	}

	async createGroup(name: string, memberUsernames: string[]): Promise<void> {
		await this.byTestId("new-group").click();
		await this.byTestId("group-name-input").fill(name);
		for (const username of memberUsernames) {
			await this.byTestId("group-member-search").fill(username);
			await this.byTestId("group-member-result")
				.filter({ hasText: `@${username}` })
				.click();
		}
		await this.byTestId("group-create-submit").click();
		await this.chatTitled(name);
	}

	/** A message in the open conversation whose content is exactly `text`. */
	message(text: string, { mine, status }: { mine?: boolean; status?: string } = {}): Locator {
		const attributes =
			(mine === undefined ? "" : `[data-mine="${mine}"]`) +
			(status === undefined ? "" : `[data-status="${status}"]`);
		return this.byTestId("message-list")
			.locator(`[data-testid="message"]${attributes}`)
			.filter({ has: this.page.getByTestId("message-content").getByText(text, { exact: true }) });
	}

	/** Sends with Enter (or the send button) and waits until the server acked it. */
	async send(text: string, how: "enter" | "button" = "enter"): Promise<void> {
		const composer = this.byTestId("composer-input");
		await composer.fill(text);
		if (how === "enter") await composer.press("Enter");
		else await this.byTestId("composer-send").click();
		await this.message(text, { mine: true, status: "sent" }).waitFor();
	}

	/** Waits until the peer's message `text` shows in the open conversation, stored. */
	async sees(text: string): Promise<void> {
		await this.message(text, { mine: false, status: "sent" }).waitFor();
	}

	/** The unread badge of a row shows exactly `count` (hidden when 0). */
	async unreadIs(conversationId: string, count: number): Promise<void> {
		const badge = this.row(conversationId).getByTestId("conversation-unread");
		if (count === 0) await badge.waitFor({ state: "hidden" });
		else await badge.filter({ hasText: new RegExp(`^\\s*${count}\\s*$`) }).waitFor();
	}

	async lastMessageIs(conversationId: string, text: string): Promise<void> {
		await this.row(conversationId).getByTestId("conversation-last").filter({ hasText: text }).waitFor();
	}

	/** Known online or offline (data-presence), not merely "not known to be online". */
	async peerOnlineIs(conversationId: string, online: boolean): Promise<void> {
		await this.row(conversationId)
			.locator(
				`[data-testid="presence-dot"][data-online="${online}"][data-presence="${online ? "online" : "offline"}"]`
			)
			.waitFor();
	}

	/**
	 * The elements that show past the window's right edge (a phone user would have to scroll
	 * sideways to read them), and whether the page itself is wider than the window.
	 */
	async sticksOutSideways(): Promise<string[]> {
		// Through the body element: the root tsconfig has no DOM lib, so no `document` global here.
		return this.page.locator("body").evaluate(body => {
			const root = body.ownerDocument.documentElement;
			const width = root.clientWidth;
			const out: string[] = [];
			if (root.scrollWidth > width) out.push(`the page is ${root.scrollWidth}px wide`);
			for (const node of body.querySelectorAll("*")) {
				const box = node.getBoundingClientRect();
				if (box.width === 0 || box.right <= width + 1) continue;
				// What an ancestor clips (an ellipsis, a scroller) does not stick out.
				let right = box.right;
				for (let up = node.parentElement; up && right > width + 1; up = up.parentElement) {
					const view = up.ownerDocument.defaultView;
					if (view && view.getComputedStyle(up).overflowX !== "visible")
						right = Math.min(right, up.getBoundingClientRect().right);
				}
				if (right <= width + 1) continue;
				const testId = node.getAttribute("data-testid");
				const name = `${node.tagName.toLowerCase()}${testId ? `[${testId}]` : `.${node.getAttribute("class")}`}`;
				out.push(`${name} ends at ${Math.round(box.right)}px`);
			}
			return out;
		});
	}

	/** The texts of the open conversation's messages, top to bottom. */
	async transcript(): Promise<string[]> {
		const texts = await this.byTestId("message-list").getByTestId("message-content").allTextContents();
		return texts.map(text => text.trim());
	}

	/** The data-seq of the open conversation's messages, top to bottom. */
	async seqs(): Promise<number[]> {
		const messages = this.byTestId("message-list").locator('[data-testid="message"]');
		const seqs: number[] = [];
		for (const message of await messages.all()) seqs.push(Number(await message.getAttribute("data-seq")));
		return seqs;
	}

	/** Waits until the open conversation shows exactly `expected`; answers what it shows then. */
	async transcriptBecomes(expected: string[]): Promise<string[]> {
		const wanted = JSON.stringify(expected);
		await until(async () => JSON.stringify(await this.transcript()) === wanted, `${this.name}'s transcript`, {
			timeoutMs: 10_000
		}).catch(() => undefined);
		return this.transcript();
	}
}
