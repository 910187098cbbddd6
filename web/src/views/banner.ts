import type { ConnectionEvent, GoChatClient } from "../sdk";
import { show } from "../dom";

/** What the banner says in each state; hidden only while connected. */
function textOf(event: ConnectionEvent): string {
	switch (event.state) {
		case "connecting":
			return "Connecting…";
		case "reconnecting":
			return "Reconnecting…";
		case "disconnected":
			return event.error ? `Disconnected: ${event.error.message}` : "Disconnected";
		default:
			return "";
	}
}

/** The connection banner: visible whenever the SDK is not connected. */
export function mountBanner(chat: GoChatClient, banner: HTMLElement): { reset(): void } {
	const render = (event: ConnectionEvent) => {
		banner.textContent = textOf(event);
		show(banner, event.state !== "connected");
	};
	chat.on("connection", render);
	return {
		// Before the first connect, "disconnected" only means "not yet".
		reset: () => render({ state: chat.connectionState === "disconnected" ? "connecting" : chat.connectionState })
	};
}
