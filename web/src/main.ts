import { GoChatClient, WebStorageOutboxStore, WebStorageTokenStore, type User } from "./sdk";
import { byTestId, coalesce, reason } from "./dom";
import { Names } from "./names";
import { mountAuth } from "./views/auth";
import { mountBanner } from "./views/banner";
import { mountChat } from "./views/chat";
import { mountConversationList } from "./views/conversation-list";
import { mountPanels } from "./views/panels";

/** Boot: restore the stored session or show the auth screen; wire the SDK's events to the views. */
// Unsent messages are kept per tab (sessionStorage): a reload sends them instead of losing them.
const chat = new GoChatClient({
	baseUrl: location.origin,
	tokenStore: new WebStorageTokenStore(),
	outboxStore: new WebStorageOutboxStore()
});

const app = document.getElementById("app") as HTMLElement;
const names = new Names(chat, (userId, name) => conversation.relabel(userId, name));
const banner = mountBanner(chat, byTestId("connection-banner"));
const auth = mountAuth(chat, document.getElementById("auth-screen") as HTMLElement, enter);
const conversation = mountChat(chat, names, app.querySelector(".chat-pane") as HTMLElement);
const list = mountConversationList(chat, byTestId("conversation-list"), id => open(id));
const addMember = byTestId<HTMLButtonElement>("group-add-member");
const listError = document.getElementById("list-error") as HTMLElement;
const panels = mountPanels(
	chat,
	names,
	{
		list: document.getElementById("list-panel") as HTMLElement,
		chat: document.getElementById("chat-panel") as HTMLElement,
		newDirect: byTestId("new-direct"),
		newGroup: byTestId("new-group"),
		addMember
	},
	(id, notice) => open(id, notice)
);

/** Narrow windows show the list or the chat (CSS reads data-view); wide ones show both. */
function open(id: string, notice?: string): void {
	if (conversation.openId !== id) panels.toggleAddMembers(null);
	// First on screen, so the message list has a height to scroll to the bottom of.
	app.dataset.view = "chat";
	conversation.open(id, notice);
	list.setActive(id);
}

function back(): void {
	panels.toggleAddMembers(null);
	conversation.close();
	list.setActive(null);
	app.dataset.view = "list";
}

async function enter(user: User): Promise<void> {
	auth.close();
	names.remember(user);
	byTestId("current-user").textContent = user.displayName || user.username;
	app.hidden = false;
	banner.reset();
	list.render();
	// The list by REST and the socket (with its sync) in parallel; the SDK keeps reconnecting on its own.
	await Promise.allSettled([loadList(), chat.connect()]);
}

/** The list by REST; a failure is shown (the sync still brings conversations with news) and retried on reconnect. */
async function loadList(): Promise<void> {
	listError.textContent = "";
	try {
		await chat.loadConversations();
		list.render();
	} catch (err) {
		if (!app.hidden) listError.textContent = `Could not load your conversations: ${reason(err)}`;
	}
}

function leave(message?: string): void {
	back();
	listError.textContent = "";
	panels.closeAll();
	list.clear();
	names.clear();
	app.hidden = true;
	auth.open(message);
}

const renderList = coalesce(() => {
	list.render();
	conversation.refresh();
});
chat.on("conversations", renderList);
chat.on("read", renderList);
chat.on("presence", renderList);
chat.on("synced", renderList);
chat.on("message", event => {
	renderList();
	conversation.onMessage(event);
});
chat.on("message:removed", renderList);
chat.on("connection", ({ state }) => {
	if (state === "connected" && listError.textContent) void loadList();
});
chat.on("typing", event => conversation.onTyping(event));
chat.on("auth", ({ user, reason }) => {
	if (user || app.hidden) return;
	leave(reason === "logout" ? "" : "Your session ended. Please log in again.");
});

byTestId("back-button").addEventListener("click", back);
addMember.addEventListener("click", () => panels.toggleAddMembers(conversation.openId));
byTestId("logout").addEventListener("click", async () => {
	await chat.logout().catch(() => undefined);
	if (!app.hidden) leave();
});

chat.restore()
	.then(user => (user ? enter(user) : auth.open()))
	.catch(() => auth.open());
