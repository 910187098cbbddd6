import { Browser, BrowserContext } from "playwright-core";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Api } from "../helpers/http";
import { until } from "../helpers/wait";
import { serverSuite } from "../helpers/servers";
import { buildWebChat, launchChromium, NARROW, screenshot, WIDE } from "./browser";
import { ChatPage } from "./chat-page";
import { NetworkLink } from "./network-link";

/**
 * The web chat the gateway serves at /, in Debian's Chromium: two users in two browser contexts
 * (separate storage) sign up, talk in a 1:1, a group and the world room, and bob drops off twice
 * (network cut, then page closed) and catches up; what he writes while his websocket is blocked
 * survives a reload. Then carol logs in on a phone, is added to the group, has sends refused,
 * scrolls back through a long history and signs out; a guest drops by.
 * One story: each test continues the previous one.
 */
serverSuite("chromium", "web chat in a real browser", chromiumPath => {
	const PASSWORD = "correct horse 1";
	let gochat: RunningGoChat | undefined;
	let browser: Browser | undefined;
	let bobContext: BrowserContext;
	/** bob reaches GoChat through his own link, which the test cuts to take his network away. */
	let bobLink: NetworkLink | undefined;
	let alice: ChatPage;
	let bob: ChatPage;
	let direct = "";
	let group = "";
	/** What bob's 1:1 and group must show, in order, once each. */
	const directLog: string[] = [];
	const groupLog: string[] = [];
	let brokenAt: string | null = null;
	// Carol, on a phone, with the longest display name there is (64 characters, one long word in it).
	const CAROL_NAME = "Carolina Wilhelmina-Augusta_von_Hohenzollern_Sigmaringen_Veringen".slice(0, 64);
	const HISTORY = 260;
	let carol: ChatPage;
	let guest: ChatPage;
	let carolId = "";
	let aliceId = "";
	let aliceApi: Api;
	let carolApi: Api;
	let history = "";

	/** A step of the story: once one fails, the later ones fail at once instead of waiting out timeouts. */
	function step(name: string, run: () => Promise<void> | void): void {
		test(name, async () => {
			if (brokenAt) throw new Error(`skipped: the step "${brokenAt}" failed`);
			try {
				await run();
			} catch (err) {
				brokenAt = name;
				throw err;
			}
		});
	}

	beforeAll(async () => {
		buildWebChat();
		// The history seeding sends 260 messages as fast as REST answers.
		gochat = await startGoChat({ SEND_RATE_USER: "1000/1s" });
		bobLink = await NetworkLink.to(Number(new URL(gochat.baseUrl).port));
		browser = await launchChromium(chromiumPath.url);
		const aliceContext = await browser.newContext({ viewport: WIDE });
		bobContext = await browser.newContext({ viewport: WIDE });
		alice = new ChatPage(await aliceContext.newPage(), "alice");
		bob = new ChatPage(await bobContext.newPage(), "bob");
	}, 90_000);

	afterAll(async () => {
		// The last state of both pages helps most when a step failed.
		for (const user of [alice, bob, carol, guest]) {
			if (user && !user.page.isClosed()) await screenshot(user.page, `${user.name}-last`).catch(() => undefined);
		}
		await browser?.close().catch(() => undefined);
		await bobLink?.close();
		await gochat?.stop();
	}, 30_000);

	step("two users sign up through the page", async () => {
		await alice.page.goto(gochat!.baseUrl);
		await alice.signUp("alice", PASSWORD, "Alice");
		await bob.page.goto(bobLink!.url);
		await bob.signUp("bob", PASSWORD, "Bob");
		for (const user of [alice, bob]) await user.row("world").waitFor();
		await screenshot(alice.page, "alice-signed-up-wide");
	});

	step("alice finds bob, opens a 1:1, and they talk live both ways with unread counts and typing", async () => {
		await alice.openDirectWith("bob", "Bob");
		await alice.send("Hi Bob, it's Alice", "button");
		directLog.push("Hi Bob, it's Alice");
		direct = await alice.conversationIdOf("Bob");
		expect(direct).toMatch(/^single_/);

		// bob is not looking at it: the row comes up with the message and one unread.
		await bob.lastMessageIs(direct, "Hi Bob, it's Alice");
		await bob.unreadIs(direct, 1);
		await screenshot(bob.page, "bob-unread-wide");
		await bob.open(direct, "Alice");
		await bob.sees("Hi Bob, it's Alice");
		await bob.unreadIs(direct, 0);

		// Typing shows on alice's side while bob types, before he sends.
		await bob.byTestId("composer-input").pressSequentially("Hello Alice", { delay: 20 });
		const typing = alice.byTestId("typing-indicator");
		await typing.waitFor({ state: "visible" });
		expect((await typing.textContent())?.trim()).not.toBe("");
		await screenshot(alice.page, "alice-typing-wide");
		await bob.byTestId("composer-input").press("Enter");
		await bob.message("Hello Alice", { mine: true, status: "sent" }).waitFor();
		directLog.push("Hello Alice");
		await alice.sees("Hello Alice");

		await alice.send("How are you?");
		directLog.push("How are you?");
		await bob.sees("How are you?");
		// Both look at the conversation: nothing stays unread.
		await alice.unreadIs(direct, 0);
		await bob.unreadIs(direct, 0);

		// Wide: the list and the open conversation side by side.
		expect(await alice.byTestId("conversation-list").isVisible()).toBe(true);
		expect(await alice.byTestId("message-list").isVisible()).toBe(true);
		await screenshot(alice.page, "alice-1to1-wide");
		await screenshot(bob.page, "bob-1to1-wide");
	});

	step("alice creates a group with bob and they talk in it both ways", async () => {
		await alice.createGroup("Weekend hike", ["bob"]);
		await alice.send("Who's in for Saturday?");
		groupLog.push("Who's in for Saturday?");
		group = await alice.conversationIdOf("Weekend hike");
		expect(group).toMatch(/^group_/);

		await bob.unreadIs(group, 1);
		await bob.open(group, "Weekend hike");
		await bob.sees("Who's in for Saturday?");
		await bob.send("I'm in");
		groupLog.push("I'm in");
		await alice.sees("I'm in");
		await screenshot(alice.page, "alice-group-wide");
	});

	step("a message in the world room reaches the other user", async () => {
		await alice.open("world", "World");
		await alice.send("Hello, world");
		await bob.lastMessageIs("world", "Hello, world");
		await bob.open("world", "World");
		await bob.sees("Hello, world");
		await bob.send("Hi everyone");
		await alice.sees("Hi everyone");
		await screenshot(bob.page, "bob-world-wide");
	});

	step("bob's network drops: the banner shows, alice sees him offline, and he gets what he missed", async () => {
		await alice.open(direct, "Bob");
		bobLink!.cut();
		await bob.byTestId("connection-banner").waitFor({ state: "visible" });
		await screenshot(bob.page, "bob-offline-banner-wide");
		await alice.peerOnlineIs(direct, false);

		const missed = ["Are you there?", "Call me when you're back"];
		for (const text of missed) await alice.send(text);
		directLog.push(...missed);

		bobLink!.restore();
		await bob.byTestId("connection-banner").waitFor({ state: "hidden" });
		await alice.peerOnlineIs(direct, true);
		await bob.lastMessageIs(direct, missed[1]);
		await bob.unreadIs(direct, 2);
		await bob.open(direct, "Alice");
		expect(await bob.transcriptBecomes(directLog)).toEqual(directLog);
		await bob.unreadIs(direct, 0);
		await screenshot(alice.page, "alice-peer-online-wide");
	});

	step("bob closes the page; back on a phone he sees every missed message once, in order", async () => {
		await bob.open("world", "World");
		await bob.page.close();
		await alice.peerOnlineIs(direct, false);

		const missedDirect = ["Missed 1", "Missed 2", "Missed 3"];
		for (const text of missedDirect) await alice.send(text);
		directLog.push(...missedDirect);
		await alice.open(group, "Weekend hike");
		const missedGroup = ["Meet at 8", "Bring water"];
		for (const text of missedGroup) await alice.send(text);
		groupLog.push(...missedGroup);

		// Same context: the stored tokens sign bob back in without the auth screen.
		const page = await bobContext.newPage();
		await page.setViewportSize(NARROW);
		bob.use(page);
		await page.goto(bobLink!.url);
		await bob.signedInAs("Bob");
		await bob.unreadIs(direct, 3);
		await bob.unreadIs(group, 2);
		await alice.peerOnlineIs(direct, true);
		// Alice was online all along: bob's fresh page knows it from the presence snapshot.
		await bob.peerOnlineIs(direct, true);
		await screenshot(bob.page, "bob-after-offline-narrow");

		// Narrow: the list and the conversation take turns, with a back button.
		await bob.open(direct, "Alice");
		await bob.byTestId("conversation-list").waitFor({ state: "hidden" });
		expect(await bob.transcriptBecomes(directLog)).toEqual(directLog);
		const seqs = await bob.seqs();
		expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
		expect(new Set(seqs).size).toBe(directLog.length);
		await screenshot(bob.page, "bob-1to1-narrow");
		await bob.byTestId("back-button").click();
		await bob.byTestId("conversation-list").waitFor({ state: "visible" });
		await bob.unreadIs(direct, 0);

		await bob.open(group, "Weekend hike");
		expect(await bob.transcriptBecomes(groupLog)).toEqual(groupLog);
		await bob.send("On my way");
		groupLog.push("On my way");
		await alice.sees("On my way");
		await screenshot(bob.page, "bob-group-narrow");
		await bob.byTestId("back-button").click();
		await bob.unreadIs(group, 0);
	});

	step("bob's websocket is blocked: what he writes stays pending through a reload, then goes out once", async () => {
		await bob.open(direct, "Alice");
		bobLink!.cutRealtime();
		await bob.byTestId("connection-banner").waitFor({ state: "visible" });
		const text = "Written while the socket was blocked";
		await bob.byTestId("composer-input").fill(text);
		await bob.byTestId("composer-input").press("Enter");
		await bob.message(text, { mine: true, status: "pending" }).waitFor();

		// The page and REST still load: the reload restores the unsent message from the tab's storage.
		await bob.page.reload();
		await bob.signedInAs("Bob");
		await bob.open(direct, "Alice");
		await bob.message(text, { mine: true, status: "pending" }).waitFor();
		await screenshot(bob.page, "bob-pending-after-reload-narrow");

		bobLink!.restore();
		await bob.byTestId("connection-banner").waitFor({ state: "hidden" });
		await bob.message(text, { mine: true, status: "sent" }).waitFor();
		directLog.push(text);
		await alice.open(direct, "Bob");
		expect(await alice.transcriptBecomes(directLog)).toEqual(directLog);
		expect(await bob.transcriptBecomes(directLog)).toEqual(directLog);
		await bob.byTestId("back-button").click();
	});

	step("a wrong password shows the refusal; the right one logs carol in on a fresh phone", async () => {
		const api = new Api(gochat!.baseUrl);
		const signedUp = await api.post("/api/v1/auth/register", {
			username: "carol",
			password: PASSWORD,
			displayName: CAROL_NAME
		});
		expect(signedUp.status).toBe(201);
		carolId = signedUp.body.user.id;
		carolApi = api.as(signedUp.body.accessToken);
		const aliceLogin = await api.post("/api/v1/auth/login", { username: "alice", password: PASSWORD });
		expect(aliceLogin.status).toBe(200);
		aliceApi = api.as(aliceLogin.body.accessToken);
		aliceId = aliceLogin.body.user.id;

		const context = await browser!.newContext({ viewport: NARROW });
		carol = new ChatPage(await context.newPage(), "carol");
		await carol.page.goto(gochat!.baseUrl);
		await carol.logIn("carol", "not her password");
		const error = carol.byTestId("auth-error");
		await error.filter({ hasText: "INVALID_CREDENTIALS" }).waitFor();
		expect(await carol.byTestId("current-user").isVisible()).toBe(false);
		await screenshot(carol.page, "carol-wrong-password-narrow");

		await carol.logIn("carol", PASSWORD);
		await carol.signedInAs(CAROL_NAME);
		await error.waitFor({ state: "hidden" });
		await carol.row("world").waitFor();
	});

	step("alice adds carol to the open group; carol sees it with its history and next message", async () => {
		await alice.open(group, "Weekend hike");
		await alice.byTestId("group-add-member").click();
		await alice.byTestId("group-member-search").fill("carol");
		await alice.byTestId("group-member-result").filter({ hasText: "@carol" }).click();
		await alice.page.getByText(`${CAROL_NAME} was added.`).waitFor();
		await screenshot(alice.page, "alice-add-member-wide");

		// Nothing tells carol before the group's next message (docs/realtime.md, membership changes).
		await alice.send("Welcome, Carol");
		groupLog.push("Welcome, Carol");
		await carol.lastMessageIs(group, "Welcome, Carol");
		await carol.unreadIs(group, groupLog.length);
		await carol.open(group, "Weekend hike");
		expect(await carol.transcriptBecomes(groupLog)).toEqual(groupLog);
		await carol.unreadIs(group, 0);
		await screenshot(carol.page, "carol-group-narrow");
	});

	step("a refused send shows its reason and goes through on retry; a too large one can be discarded", async () => {
		const groupId = group.replace(/^group_/, "");
		expect((await aliceApi.delete(`/api/v1/groups/${groupId}/members/${carolId}`)).status).toBe(200);

		// Carol's page still shows the group; the server refuses her message (404: not a member).
		const input = carol.byTestId("composer-input");
		await input.fill("Am I still in?");
		await input.press("Enter");
		const refused = carol.message("Am I still in?", { mine: true, status: "failed" });
		await refused.waitFor();
		expect(await refused.getByTestId("message-error").textContent()).toContain("(CONVERSATION_NOT_FOUND)");
		await screenshot(carol.page, "carol-send-refused-narrow");

		expect((await aliceApi.post(`/api/v1/groups/${groupId}/members`, { userIds: [carolId] })).status).toBe(200);
		await refused.getByTestId("message-retry").click();
		await carol.message("Am I still in?", { mine: true, status: "sent" }).waitFor();
		groupLog.push("Am I still in?");
		await alice.sees("Am I still in?");

		// One byte over MESSAGE_MAX_BYTES (16384): "é" is two bytes in UTF-8.
		await input.fill("é".repeat(8192) + "!");
		await input.press("Enter");
		const tooLarge = carol.byTestId("message-list").locator('[data-testid="message"][data-status="failed"]');
		await tooLarge.getByTestId("message-error").filter({ hasText: "MESSAGE_TOO_LARGE" }).waitFor();
		await screenshot(carol.page, "carol-too-large-narrow");
		await tooLarge.getByTestId("message-discard").click();
		await tooLarge.waitFor({ state: "detached" });
		expect(await carol.transcriptBecomes(groupLog)).toEqual(groupLog);
		// The discarded message is not the row's last one either.
		await carol.byTestId("back-button").click();
		await carol.lastMessageIs(group, "Am I still in?");
	});

	step(
		"a burst keeps the list's order and unread count; scroll-back brings older messages in place, once each",
		async () => {
			const opened = await carolApi.post("/api/v1/conversations/direct", { userId: aliceId });
			expect(opened.status).toBe(201);
			history = opened.body.conversation.id;

			const texts = Array.from({ length: HISTORY }, (_, i) => `History ${String(i + 1).padStart(3, "0")}`);
			for (const [i, content] of texts.entries()) {
				const sent = await aliceApi.post(`/api/v1/conversations/${history}/messages`, {
					clientMsgId: `history-${i + 1}`,
					type: "text",
					content
				});
				expect(sent.status).toBe(200);
			}
			await carol.lastMessageIs(history, texts[HISTORY - 1]);
			await carol.unreadIs(history, HISTORY);
			expect(await carol.byTestId("conversation-item").first().getAttribute("data-conversation-id")).toBe(
				history
			);
			await screenshot(carol.page, "carol-burst-narrow");

			// A fresh page: its first sync brings the newest 200, the rest is history to scroll back to.
			await carol.page.reload();
			await carol.signedInAs(CAROL_NAME);
			await carol.peerOnlineIs(history, true);
			await carol.open(history, "Alice");
			const newest = texts.slice(HISTORY - 200);
			expect(await carol.transcriptBecomes(newest)).toEqual(newest);
			await carol.byTestId("load-older").waitFor();

			// At the top, the next page comes above, and the message that was on top stays where it was.
			const list = carol.byTestId("message-list");
			const anchor = carol.message(newest[0]);
			// Where the anchor sits in the list's window, in px from its top edge.
			const offset = () =>
				anchor.evaluate(node => {
					const scroller = node.closest('[data-testid="message-list"]');
					return node.getBoundingClientRect().top - (scroller?.getBoundingClientRect().top ?? 0);
				});
			await list.evaluate(node => (node.scrollTop = 0));
			const before = await offset();
			const more = texts.slice(HISTORY - 250);
			expect(await carol.transcriptBecomes(more)).toEqual(more);
			expect(Math.abs((await offset()) - before)).toBeLessThan(60);
			await screenshot(carol.page, "carol-scrolled-back-narrow");

			await carol.byTestId("load-older").click();
			expect(await carol.transcriptBecomes(texts)).toEqual(texts);
			await carol.byTestId("load-older").waitFor({ state: "hidden" });
			const seqs = await carol.seqs();
			expect(seqs).toEqual(Array.from({ length: HISTORY }, (_, i) => i + 1));
			await carol.byTestId("back-button").click();
			await carol.unreadIs(history, 0);
		}
	);

	step("Shift+Enter writes a new line; long words and names wrap on a phone, nothing scrolls sideways", async () => {
		await carol.open(history, "Alice");
		const input = carol.byTestId("composer-input");
		await input.fill("First line");
		await input.press("Shift+Enter");
		await input.pressSequentially("second line");
		expect(await input.inputValue()).toBe("First line\nsecond line");
		await input.press("Enter");
		await until(async () => (await carol.transcript()).includes("First line\nsecond line"), "the two-line message");
		await carol.message("First line second line", { mine: true, status: "sent" }).waitFor();
		expect(await input.inputValue()).toBe("");

		const longWord = `https://example.com/${"a-very-long-path-without-spaces".repeat(12)}`;
		await carol.send(longWord);
		expect(await carol.sticksOutSideways()).toEqual([]);
		await screenshot(carol.page, "carol-long-words-narrow");

		// Carol's long name in alice's list and as a sender in the group, on a phone too.
		// Alice still has the group open: on a phone it takes the whole window.
		await alice.page.setViewportSize(NARROW);
		await alice.chatTitled("Weekend hike");
		await alice.message("Am I still in?").waitFor();
		expect(await alice.sticksOutSideways()).toEqual([]);
		await screenshot(alice.page, "alice-long-name-group-narrow");
		await alice.byTestId("back-button").click();
		await alice.lastMessageIs(history, longWord);
		expect(await alice.sticksOutSideways()).toEqual([]);
		await screenshot(alice.page, "alice-long-name-list-narrow");
		await alice.page.setViewportSize(WIDE);
	});

	step("a guest joins without an account and talks in the world room", async () => {
		const context = await browser!.newContext({ viewport: WIDE });
		guest = new ChatPage(await context.newPage(), "guest");
		await guest.page.goto(gochat!.baseUrl);
		await guest.byTestId("auth-guest").waitFor();
		await screenshot(guest.page, "guest-auth-wide");
		await guest.continueAsGuest("Visitor");
		await guest.open("world", "World");
		await guest.send("Hello from a guest");
		await alice.lastMessageIs("world", "Hello from a guest");
	});

	step("logging out returns to the auth screen, and a reload stays signed out", async () => {
		await carol.byTestId("logout").click();
		await carol.signedOut();
		await carol.page.reload();
		await carol.signedOut();
		await screenshot(carol.page, "carol-signed-out-narrow");
	});

	test("no page threw an uncaught error", () => {
		expect([alice, bob, carol, guest].flatMap(user => user?.errors ?? [])).toEqual([]);
	});
});
