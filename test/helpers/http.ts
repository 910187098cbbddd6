/** A tiny JSON client over fetch for the integration tests. */
export interface Reply<T = any> {
	status: number;
	body: T;
	headers: Headers;
}

export class Api {
	constructor(
		readonly baseUrl: string,
		public token?: string
	) {}

	as(token: string | undefined): Api {
		return new Api(this.baseUrl, token);
	}

	async request<T = any>(
		method: string,
		path: string,
		body?: unknown,
		init: { raw?: string; headers?: Record<string, string> } = {}
	): Promise<Reply<T>> {
		const headers: Record<string, string> = { ...init.headers };
		if (this.token) headers.authorization = `Bearer ${this.token}`;
		let payload: string | undefined = init.raw;
		if (body !== undefined) payload = JSON.stringify(body);
		if (payload !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
		const res = await fetch(this.baseUrl + path, { method, headers, body: payload });
		const text = await res.text();
		let parsed: unknown = text;
		try {
			parsed = text ? JSON.parse(text) : null;
		} catch {
			// Leave non-JSON bodies as text so the assertion shows them.
		}
		return { status: res.status, body: parsed as T, headers: res.headers };
	}

	get<T = any>(path: string) {
		return this.request<T>("GET", path);
	}
	post<T = any>(path: string, body?: unknown) {
		return this.request<T>("POST", path, body ?? {});
	}
	patch<T = any>(path: string, body?: unknown) {
		return this.request<T>("PATCH", path, body ?? {});
	}
	delete<T = any>(path: string) {
		return this.request<T>("DELETE", path);
	}
}

export interface Account {
	api: Api;
	user: { id: string; username: string; displayName: string };
	accessToken: string;
	refreshToken: string;
}

let counter = 0;

/** Registers a fresh user and returns a client that acts as them. */
export async function register(api: Api, name = "user"): Promise<Account> {
	const username = `${name}_${process.pid % 1000}_${++counter}`;
	const res = await api.post("/api/v1/auth/register", { username, password: "correct horse", displayName: name });
	if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
	return { api: api.as(res.body.accessToken), ...res.body };
}
