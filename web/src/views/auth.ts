import type { GoChatClient, User } from "../sdk";
import { byTestId, reason, show } from "../dom";

export interface AuthView {
	/** Shows the auth screen, with a message when the session ended on its own. */
	open(message?: string): void;
	close(): void;
}

/** Log in, sign up, or continue as guest. Enter in the form logs in. */
export function mountAuth(chat: GoChatClient, screen: HTMLElement, onSignedIn: (user: User) => void): AuthView {
	const form = screen.querySelector("form") as HTMLFormElement;
	const username = byTestId<HTMLInputElement>("auth-username", screen);
	const password = byTestId<HTMLInputElement>("auth-password", screen);
	const displayName = byTestId<HTMLInputElement>("auth-displayname", screen);
	const error = byTestId("auth-error", screen);
	const buttons = [...screen.querySelectorAll("button")];

	const setError = (text: string) => {
		error.textContent = text;
		show(error, text !== "");
	};

	const run = async (attempt: () => Promise<User>) => {
		setError("");
		buttons.forEach(b => (b.disabled = true));
		try {
			const user = await attempt();
			password.value = "";
			onSignedIn(user);
		} catch (err) {
			setError(reason(err));
		} finally {
			buttons.forEach(b => (b.disabled = false));
		}
	};

	const credentials = () => {
		if (!username.value.trim() || !password.value) {
			setError("Enter a username and a password.");
			return null;
		}
		return { username: username.value.trim(), password: password.value };
	};

	form.addEventListener("submit", event => {
		event.preventDefault();
		const given = credentials();
		if (given) void run(() => chat.login(given.username, given.password));
	});
	byTestId("auth-register", screen).addEventListener("click", () => {
		const given = credentials();
		const name = displayName.value.trim();
		if (given) void run(() => chat.register({ ...given, ...(name ? { displayName: name } : {}) }));
	});
	byTestId("auth-guest", screen).addEventListener("click", () => {
		void run(() => chat.guest(displayName.value.trim() || undefined));
	});

	return {
		open(message = "") {
			setError(message);
			show(screen, true);
			username.focus();
		},
		close() {
			show(screen, false);
			setError("");
		}
	};
}
