import { fail, toHttpError } from "../../lib/errors";
import { nestingExceeds } from "../../lib/payload-shape";
import { retryAfterSeconds } from "../../lib/rate-limit";
import { callFrom } from "../../lib/contracts";
import type { SocketClientEvents } from "../../lib/contracts/client";
import { observeSendAck, recordRefusal } from "../../lib/metrics";
import type { GatewaySocket, SocketUser } from "./socket-types";
import { TYPING_INTERVAL_MS, TypingThrottle } from "./typing-throttle";
import { runWithRequestId } from "../../middlewares/request-context.middleware";

type Ack = (reply: unknown) => void;
type Payload = Record<string, unknown>;
type Handler = (socket: GatewaySocket, payload: Payload) => Promise<object>;
/** Sends count against the send rates; every other event against the socket's event rate. */
type Kind = "send" | "event";

/** The longest token `auth:refresh` reads; real ones are a few hundred characters. */
const TOKEN_MAX_LENGTH = 4096;

/** Whatever a client passed: the ack, if any, is the last argument; no payload counts as {}. */
export function splitArguments(args: unknown[]): { payload: unknown; respond: Ack | null } {
	const respond = typeof args[args.length - 1] === "function" ? (args[args.length - 1] as Ack) : null;
	const first = typeof args[0] === "function" ? undefined : args[0];
	return { payload: first === undefined ? {} : first, respond };
}

export function objectPayload(payload: unknown, maxDepth: number): Payload {
	if (payload === null || typeof payload !== "object" || Array.isArray(payload) || ArrayBuffer.isView(payload)) {
		fail("INVALID_INPUT", "The event payload must be an object");
	}
	if (nestingExceeds(payload, maxDepth))
		fail("INVALID_INPUT", `The event payload is nested deeper than ${maxDepth} levels`);
	return payload as Payload;
}

/** The access token's `exp` in ms, read after auth verified the token; null when it has none. */
export function tokenExpiresAt(token: string): number | null {
	try {
		const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
		return typeof claims?.exp === "number" ? claims.exp * 1000 : null;
	} catch {
		return null;
	}
}

/** Nothing is carried out for a socket whose token expired, nor past its rates. */
function admit(socket: GatewaySocket, kind: Kind) {
	const { expiresAt, userId } = socket.data;
	if (expiresAt != null && Date.now() >= expiresAt)
		fail("TOKEN_EXPIRED", "The access token has expired: refresh it and connect again");
	const limits = socket.$service.limits;
	if (kind === "send") limits.admitSend(socket.id, userId!);
	else limits.admitEvent(socket.id);
}

/** A draining gateway answers new events with this (a retryable refusal) instead of starting them. */
export const DRAINING_REFUSAL = {
	code: "SERVICE_UNAVAILABLE",
	message: "This server is shutting down: reconnect (you will reach another server) and send again",
	details: { retryAfter: 1 }
} as const;

/**
 * Every client event acks `{ok: true, ...result}` or `{ok: false, error: {code, message, details?}}`,
 * whatever it was sent; an event without a handler is unknown. Each counts as in flight until it
 * answered, so a draining gateway waits for it (or answers it at its deadline).
 */
function clientEvent(event: string, kind: Kind, handle: Handler | null) {
	async function handleEvent(this: GatewaySocket, ...args: unknown[]) {
		const { payload, respond } = splitArguments(args);
		const service = this.$service;
		const timed = kind === "send" && service.broker.isMetricsEnabled();
		const arrivedAt = timed ? performance.now() : 0;
		const answer = service.inFlight.begin(event, respond);
		let admitted = false;
		let handed = false;
		try {
			if (service.draining) fail(DRAINING_REFUSAL.code, DRAINING_REFUSAL.message, DRAINING_REFUSAL.details);
			admit(this, kind);
			admitted = true;
			if (!handle) fail("ROUTE_NOT_FOUND", "No such event");
			const input = objectPayload(payload, service.limits.jsonMaxDepth);
			handed = true;
			const result = await handle(this, input);
			answer({ ok: true, ...result });
		} catch (err) {
			const { status, body } = toHttpError(err);
			if (status >= 500 && status !== 503) service.logger.error("A socket event failed:", err);
			answer({ ok: false, error: body.error });
			// Logic counts the refusals of the sends it received; these never reached it.
			if (kind === "send" && !handed) recordRefusal(service.broker, body.error.code);
			// Only the rates count towards a cut-off: a client that sends typing at every keystroke is not flooding.
			if (!admitted && body.error.code === "RATE_LIMITED" && service.limits.refused(this.id))
				service.cutOff(this);
		} finally {
			if (timed) observeSendAck(service.broker, performance.now() - arrivedAt);
		}
	}
	// One request ID per event: the calls it makes and every line logged for it, here too, carry it.
	return function (this: GatewaySocket, ...args: unknown[]) {
		if (!this.$service.config.logRequestIds) return handleEvent.apply(this, args);
		return runWithRequestId(this.$service.broker.generateUid(), () => handleEvent.apply(this, args));
	};
}

const callAction =
	(action: string): Handler =>
	(socket, payload) =>
		socket.$service.callAs(socket, action, payload);

/**
 * One notice per socket and conversation per interval. Only notices that went through keep their
 * window, so the throttle remembers conversations the user is in, at most TYPING_REMEMBERED.
 */
async function typing(socket: GatewaySocket, payload: Payload): Promise<object> {
	const { conversationId } = payload;
	if (typeof conversationId !== "string") return callAction("conversations.typing")(socket, payload);
	const throttle = (socket.data.typing ??= new TypingThrottle());
	const waitMs = throttle.waitMs(conversationId);
	if (waitMs > 0) {
		fail("RATE_LIMITED", `At most one typing notice per ${TYPING_INTERVAL_MS} ms per conversation`, {
			retryAfter: retryAfterSeconds(waitMs)
		});
	}
	const giveBack = throttle.hold(conversationId);
	try {
		return await callAction("conversations.typing")(socket, payload);
	} catch (err) {
		giveBack();
		throw err;
	}
}

/** A fresher access token of the same user: the socket takes on its session and its expiry. */
async function refreshToken(socket: GatewaySocket, payload: Payload): Promise<object> {
	const { token } = payload;
	if (typeof token !== "string" || token === "" || token.length > TOKEN_MAX_LENGTH) {
		fail("INVALID_INPUT", "Send {token: <accessToken>}");
	}
	const service = socket.$service;
	const claims: SocketUser = await callFrom(service.broker, "auth.resolveToken", { token });
	if (claims.userId !== socket.data.userId) fail("FORBIDDEN", "The token belongs to another user");
	const expiresAt = tokenExpiresAt(token);
	// A socket that went away meanwhile must not be put back into the session index.
	if (socket.connected) {
		service.moveToSession(socket, claims.sessionId);
		socket.data.expiresAt = expiresAt;
		service.watchExpiry(socket);
	}
	return { expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() };
}

/** The events a client may send, each answered through its ack: exactly those of the client contract. */
export const CLIENT_EVENTS: {
	[E in keyof SocketClientEvents]: (this: GatewaySocket, ...args: unknown[]) => Promise<void>;
} = {
	"message:send": clientEvent("message:send", "send", callAction("messages.send")),
	"conversation:read": clientEvent("conversation:read", "event", callAction("conversations.markRead")),
	typing: clientEvent("typing", "event", typing),
	sync: clientEvent("sync", "event", callAction("messages.sync")),
	"auth:refresh": clientEvent("auth:refresh", "event", refreshToken)
};

export const isClientEvent = (event: unknown) => Object.prototype.hasOwnProperty.call(CLIENT_EVENTS, String(event));

/** Any other event, including moleculer-io's generic "call" (it would expose every published action). */
export const unknownEvent = clientEvent("unknown event", "event", null);
