import fs from "fs";
import os from "os";
import path from "path";
import { Child, startChild } from "./process";
import { mapLimit } from "./util";

/** A user the clients act as: its ID, and the token its socket connects with. */
export interface Account {
	userId: string;
	token: string;
}

/**
 * A server the bench drives: GoChat (a child, or one already running) or the bare relay. The load
 * is the same for all; only accounts and conversations are set up each server's own way.
 */
export interface Target {
	name: string;
	baseUrl: string;
	/** The process to read RSS from; absent for a server the bench did not start. */
	pid?: number;
	register(count: number): Promise<Account[]>;
	createDirect(a: Account, b: Account): Promise<string>;
	/** Creates a group of the owner and the members (any number: added in chunks the API allows); returns its conversation ID. */
	createGroup(owner: Account, members: Account[]): Promise<string>;
	stop(): Promise<void>;
}

/** Requests in flight at once during set-up: enough to be quick, few enough not to look like load. */
export const SETUP_CONCURRENCY = 50;
/** At most this many user IDs per group create or add (docs/api.md, "User IDs per group request"). */
const GROUP_IDS_PER_CALL = 1000;

async function request<T>(baseUrl: string, method: string, route: string, body?: unknown, token?: string): Promise<T> {
	const res = await fetch(baseUrl + route, {
		method,
		headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text.slice(0, 500)}`);
	return (text ? JSON.parse(text) : {}) as T;
}

function goChatApi(baseUrl: string): Omit<Target, "name" | "pid" | "stop"> {
	return {
		baseUrl,
		// Guests, so bcrypt does not dominate the set-up.
		register: count =>
			mapLimit(
				Array.from({ length: count }, (_, i) => i),
				SETUP_CONCURRENCY,
				async i => {
					const auth = await request<{ user: { id: string }; accessToken: string }>(
						baseUrl,
						"POST",
						"/api/v1/auth/guest",
						{ displayName: `bench ${i}` }
					);
					return { userId: auth.user.id, token: auth.accessToken };
				}
			),
		async createDirect(a, b) {
			const { conversation } = await request<{ conversation: { id: string } }>(
				baseUrl,
				"POST",
				"/api/v1/conversations/direct",
				{ userId: b.userId },
				a.token
			);
			return conversation.id;
		},
		async createGroup(owner, members) {
			const ids = members.map(m => m.userId);
			const { group } = await request<{ group: { id: string; conversationId: string } }>(
				baseUrl,
				"POST",
				"/api/v1/groups",
				{ name: `bench ${owner.userId}`, memberIds: ids.slice(0, GROUP_IDS_PER_CALL) },
				owner.token
			);
			for (let i = GROUP_IDS_PER_CALL; i < ids.length; i += GROUP_IDS_PER_CALL) {
				await request(
					baseUrl,
					"POST",
					`/api/v1/groups/${group.id}/members`,
					{ userIds: ids.slice(i, i + GROUP_IDS_PER_CALL) },
					owner.token
				);
			}
			return group.conversationId;
		}
	};
}

/**
 * The bench measures capacity, not the per-client limits: its thousands of users all sign up,
 * connect and send from one address. Set any of these in the environment to bench with limits.
 */
const UNLIMITED_CLIENTS = {
	SIGNUP_RATE: "off",
	LOGIN_RATE: "off",
	SEND_RATE_SOCKET: "off",
	SEND_RATE_USER: "off",
	SOCKET_EVENT_RATE: "off",
	SOCKETS_PER_ADDRESS: "1000000",
	SEND_QUEUE_PER_USER: "1000000"
};

/** Starts GoChat from the build on a free port, on a throwaway SQLite file unless DATABASE_URL is set. */
export async function startGoChat(env: Record<string, string> = {}): Promise<Target> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-bench-"));
	let child: Child;
	try {
		child = await startChild("GoChat", path.resolve(__dirname, "../../server.js"), {
			...UNLIMITED_CLIENTS,
			...process.env,
			LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
			DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${path.join(dir, "bench.sqlite")}`,
			...env
		});
	} catch (err) {
		fs.rmSync(dir, { recursive: true, force: true });
		throw err;
	}
	return {
		name: "GoChat",
		pid: child.process.pid,
		...goChatApi(child.baseUrl),
		async stop() {
			await child.stop();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	};
}

/** A GoChat the bench did not start (--url): driven the same way, never stopped. */
export function remoteGoChat(baseUrl: string): Target {
	return { name: "GoChat", ...goChatApi(baseUrl.replace(/\/+$/, "")), stop: async () => undefined };
}

/** Starts the bare Socket.IO relay (relay.ts) in a child; accounts are names, conversations are told to it over HTTP. */
export async function startRelay(): Promise<Target> {
	const child = await startChild("relay", path.join(__dirname, "relay.js"), process.env);
	let users = 0;
	let groups = 0;
	const declare = async (id: string, members: Account[]) => {
		await request(child.baseUrl, "POST", "/conversations", { id, members: members.map(m => m.userId) });
		return id;
	};
	return {
		name: "relay",
		baseUrl: child.baseUrl,
		pid: child.process.pid,
		register: async count =>
			Array.from({ length: count }, () => {
				const userId = String(++users);
				return { userId, token: userId };
			}),
		createDirect: (a, b) => declare(`single_${a.userId}_${b.userId}`, [a, b]),
		createGroup: (owner, members) => declare(`group_${++groups}`, [owner, ...members]),
		stop: () => child.stop()
	};
}
