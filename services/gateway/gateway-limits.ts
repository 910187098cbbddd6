import type { Config } from "../../lib/config";
import { GoChatError } from "../../lib/errors";
import { LocalRateLimiter, Rate, retryAfterSeconds } from "../../lib/rate-limit";

/**
 * Refusals are cheap, but not free: a socket that ignores them can keep a gateway busy refusing
 * thousands of events a second. One that draws more than 100 at once, or 10 a second for long,
 * is cut off, and its user may not open another socket on this node for a while.
 */
export const REFUSALS_BEFORE_CUT: Rate = { count: 100, periodMs: 10_000 };
export const CUT_OFF_SECONDS = 10;

/** Spends one from `key`'s bucket or refuses with RATE_LIMITED and the seconds to wait. */
export function spendOrRefuse(limiter: LocalRateLimiter, key: string, what: string): void {
	const decision = limiter.take(key);
	if (decision.allowed) return;
	const retryAfter = retryAfterSeconds(decision.retryAfterMs);
	throw new GoChatError("RATE_LIMITED", `Too many ${what}; retry in ${retryAfter} s`, { retryAfter });
}

/**
 * Open sockets counted per user and per client address on this gateway node. A slot is taken
 * when the handshake is accepted and handed back by the release function it returns, which may
 * be called any number of times (on disconnect, and when a handshake is dropped before it connected).
 */
export class SocketSlots {
	private readonly byUser = new Map<string, number>();
	private readonly byAddress = new Map<string, number>();

	constructor(
		private readonly perUser: number,
		private readonly perAddress: number
	) {}

	/** Refuses an address at its cap before any token is checked for it. */
	checkAddress(address: string): void {
		if ((this.byAddress.get(address) ?? 0) >= this.perAddress) {
			throw new GoChatError(
				"RATE_LIMITED",
				`Too many open sockets from this address (at most ${this.perAddress})`
			);
		}
	}

	take(userId: string, address: string): () => void {
		this.checkAddress(address);
		if ((this.byUser.get(userId) ?? 0) >= this.perUser) {
			throw new GoChatError("RATE_LIMITED", `Too many open sockets for this user (at most ${this.perUser})`);
		}
		add(this.byUser, userId, 1);
		add(this.byAddress, address, 1);
		let held = true;
		return () => {
			if (!held) return;
			held = false;
			add(this.byUser, userId, -1);
			add(this.byAddress, address, -1);
		};
	}

	get counted(): { users: number; addresses: number } {
		return { users: this.byUser.size, addresses: this.byAddress.size };
	}

	sockets(userId: string): number {
		return this.byUser.get(userId) ?? 0;
	}
}

function add(counts: Map<string, number>, key: string, delta: number) {
	const next = (counts.get(key) ?? 0) + delta;
	if (next > 0) counts.set(key, next);
	else counts.delete(key);
}

/**
 * What one gateway node allows its clients, all in process (a socket and its user's sends on
 * this node are seen here alone). Sends count per socket and per user, REST sends included;
 * every other socket event counts per socket.
 */
export class GatewayLimits {
	readonly sendsPerSocket: LocalRateLimiter;
	readonly sendsPerUser: LocalRateLimiter;
	readonly eventsPerSocket: LocalRateLimiter;
	readonly refusalsPerSocket: LocalRateLimiter;
	readonly sockets: SocketSlots;
	/** Users cut off for flooding, until when (ms); entries past their time are dropped when looked at. */
	private readonly cutOffUntil = new Map<string, number>();
	/** Deepest nesting a socket payload may have. */
	readonly jsonMaxDepth: number;

	constructor(
		config: Pick<
			Config,
			| "sendRateSocket"
			| "sendRateUser"
			| "socketEventRate"
			| "socketsPerUser"
			| "socketsPerAddress"
			| "jsonMaxDepth"
		>,
		now: () => number = Date.now
	) {
		this.sendsPerSocket = new LocalRateLimiter(config.sendRateSocket, now);
		this.sendsPerUser = new LocalRateLimiter(config.sendRateUser, now);
		this.eventsPerSocket = new LocalRateLimiter(config.socketEventRate, now);
		this.refusalsPerSocket = new LocalRateLimiter(REFUSALS_BEFORE_CUT, now);
		this.sockets = new SocketSlots(config.socketsPerUser, config.socketsPerAddress);
		this.jsonMaxDepth = config.jsonMaxDepth;
	}

	/** A send from a socket (socketId) or over REST (null): the socket's own rate first, so one socket's excess does not spend its user's. */
	admitSend(socketId: string | null, userId: string): void {
		if (socketId !== null) spendOrRefuse(this.sendsPerSocket, socketId, "messages from this socket");
		spendOrRefuse(this.sendsPerUser, userId, "messages from this user");
	}

	admitEvent(socketId: string): void {
		spendOrRefuse(this.eventsPerSocket, socketId, "events from this socket");
	}

	/** Counts a RATE_LIMITED answer to a socket; true when the socket has drawn too many and must be cut off. */
	refused(socketId: string): boolean {
		return !this.refusalsPerSocket.take(socketId).allowed;
	}

	cutOff(userId: string, now = Date.now()): void {
		for (const [user, until] of this.cutOffUntil) if (until <= now) this.cutOffUntil.delete(user);
		this.cutOffUntil.set(userId, now + CUT_OFF_SECONDS * 1000);
	}

	/** A handshake of a user recently cut off for flooding is refused until the time is up. */
	checkNotCutOff(userId: string, now = Date.now()): void {
		const until = this.cutOffUntil.get(userId);
		if (until === undefined) return;
		if (until <= now) {
			this.cutOffUntil.delete(userId);
			return;
		}
		const retryAfter = retryAfterSeconds(until - now);
		throw new GoChatError(
			"RATE_LIMITED",
			`A socket of this user ignored its rate limits and was cut off; retry in ${retryAfter} s`,
			{ retryAfter }
		);
	}
}
