import type { GoChatClient, User } from "./sdk";

const SYSTEM_SENDER_ID = "0";

/**
 * Display names by user ID, for senders and typists in groups and the world room. Users seen in
 * search results are remembered; others are fetched once, and `onName` tells the views to relabel.
 */
export class Names {
	private readonly names = new Map<string, string>();
	private readonly asked = new Set<string>();

	constructor(
		private readonly chat: GoChatClient,
		private readonly onName: (userId: string, name: string) => void
	) {}

	remember(user: User): void {
		this.names.set(user.id, user.displayName || user.username);
	}

	/** The name if known; else a placeholder now and `onName` later. */
	of(userId: string): string {
		if (userId === SYSTEM_SENDER_ID) return "System";
		if (this.chat.user?.id === userId) return "You";
		const known = this.names.get(userId);
		if (known) return known;
		if (!this.asked.has(userId)) {
			this.asked.add(userId);
			this.chat.api.users
				.get(userId)
				.then(({ user }) => {
					this.remember(user);
					this.onName(userId, this.names.get(userId) ?? "");
				})
				.catch(() => this.asked.delete(userId));
		}
		return "…";
	}

	clear(): void {
		this.names.clear();
		this.asked.clear();
	}
}
