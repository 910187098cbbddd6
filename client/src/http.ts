import { REST_BASE_PATH, REST_ROUTES } from "../../lib/contracts/client";
import type { RestAction, RestActions } from "../../lib/contracts/client";
import { GoChatError } from "./errors";

/** The HTTP core shared by Session (public auth routes) and Api (everything, with tokens and retries). */

export interface HttpOptions {
	baseUrl: string;
	fetch?: typeof fetch;
	requestTimeoutMs?: number;
}

export interface BuiltRequest {
	method: string;
	/** From REST_BASE_PATH on, with the query string for GETs. */
	path: string;
	/** JSON text for writes; undefined when there is nothing to send. */
	body?: string;
}

/**
 * Fills `:name` path segments from params; a GET sends the rest as its query, writes send it as
 * JSON (the server reads a write's body only, docs/api.md "JSON only").
 */
export function buildRequest<A extends RestAction>(action: A, params: RestActions[A]["params"]): BuiltRequest {
	const route = REST_ROUTES[action];
	const rest: Record<string, unknown> = { ...(params as Record<string, unknown>) };
	const path = route.path.replace(/:([A-Za-z]+)/g, (_match, name: string) => {
		const value = rest[name];
		if (typeof value !== "string" && typeof value !== "number") {
			throw new GoChatError(0, "INVALID_INPUT", `${action} needs '${name}'`);
		}
		delete rest[name];
		return encodeURIComponent(String(value));
	});
	for (const key of Object.keys(rest)) if (rest[key] === undefined) delete rest[key];
	if (route.method === "GET") return { method: "GET", path: REST_BASE_PATH + path + queryOf(rest) };
	// DELETE routes take everything from the path; a body is only sent when something is left.
	const body = route.method === "DELETE" && Object.keys(rest).length === 0 ? undefined : JSON.stringify(rest);
	return { method: route.method, path: REST_BASE_PATH + path, body };
}

function queryOf(params: Record<string, unknown>): string {
	const pairs = Object.entries(params)
		.filter(([, value]) => value !== null)
		.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
	return pairs.length > 0 ? `?${pairs.join("&")}` : "";
}

export class Http {
	readonly baseUrl: string;
	readonly timeoutMs: number;
	private readonly fetch: typeof fetch;

	constructor(options: HttpOptions) {
		this.baseUrl = options.baseUrl.replace(/\/+$/, "");
		this.timeoutMs = options.requestTimeoutMs ?? 10_000;
		// Called unbound, a browser's fetch throws "Illegal invocation".
		const fetchImpl = options.fetch ?? globalThis.fetch;
		if (typeof fetchImpl !== "function") throw new TypeError("GoChat needs fetch: pass options.fetch");
		this.fetch = (input, init) => fetchImpl(input, init);
	}

	/** Sends one request for `action`; answers its result or throws a GoChatError. */
	async call<A extends RestAction>(
		action: A,
		params: RestActions[A]["params"],
		token?: string
	): Promise<RestActions[A]["result"]> {
		const request = buildRequest(action, params);
		const headers: Record<string, string> = { accept: "application/json" };
		if (request.body !== undefined) headers["content-type"] = "application/json";
		if (token) headers.authorization = `Bearer ${token}`;
		const what = `${request.method} ${request.path.split("?")[0]}`;
		const controller = new AbortController();
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			controller.abort();
		}, this.timeoutMs);
		let status = 0;
		let text: string;
		let retryAfterHeader: string | null = null;
		try {
			const response = await this.fetch(this.baseUrl + request.path, {
				method: request.method,
				headers,
				body: request.body,
				signal: controller.signal
			});
			status = response.status;
			retryAfterHeader = response.headers.get("retry-after");
			text = await response.text();
		} catch (err) {
			if (timedOut) throw new GoChatError(0, "TIMEOUT", `${what}: no answer within ${this.timeoutMs} ms`);
			throw new GoChatError(0, "NETWORK_ERROR", `${what} failed: ${(err as Error)?.message ?? err}`);
		} finally {
			clearTimeout(timer);
		}
		let body: unknown;
		try {
			body = JSON.parse(text);
		} catch {
			throw new GoChatError(status, "BAD_RESPONSE", `${what} answered ${status} with a body that is not JSON`);
		}
		if (status >= 200 && status < 300) return body as RestActions[A]["result"];
		const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
		if (!error || typeof error.code !== "string") {
			throw new GoChatError(status, "BAD_RESPONSE", `${what} answered ${status} without an error code`);
		}
		const message = typeof error.message === "string" ? error.message : error.code;
		throw new GoChatError(status, error.code, message, error.details, secondsOf(retryAfterHeader));
	}
}

/** Retry-After is seconds, or an HTTP date. */
function secondsOf(header: string | null): number | undefined {
	if (!header) return undefined;
	if (/^\d+$/.test(header.trim())) return Number(header);
	const at = Date.parse(header);
	return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
