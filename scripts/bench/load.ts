import { performance } from "perf_hooks";
import { io, Socket } from "socket.io-client";
import { Member, Population } from "./population";
import { mapLimit, sleep, yieldToEvents } from "./util";

/**
 * The client side of every mode: one Socket.IO client per member, sends at a set rate (or one at a
 * time), and the bookkeeping of what came back. Each send carries a key and its send time in
 * `content`, so pushes are matched to sends without trusting any server ID, and a push that
 * overtakes its ack still counts.
 */
type Status = "pending" | "ok" | "refused" | "failed" | "timeout";

export interface SendRecord {
	phase: Phase;
	sentAt: number;
	expected: number;
	receivedBy: Set<number>;
	status: Status;
	ackMs?: number;
	lastReceivedAt?: number;
}

interface Ack {
	ok?: boolean;
	message?: { id: string };
	error?: { code?: string; details?: { retryAfter?: unknown } };
}

/** The code an overloaded server refuses a send with (HTTP 503 over REST), with details.retryAfter. */
export const OVERLOADED = "OVERLOADED";

/** Everything one stretch of load produced; keys and records of other phases never mix in. */
export class Phase {
	readonly records = new Map<string, SendRecord>();
	readonly inFlight: Promise<void>[] = [];
	sent = 0;
	accepted = 0;
	refused = 0;
	failed = 0;
	timedOut = 0;
	readonly errors = new Map<string, number>();
	readonly ackMs: number[] = [];
	readonly refusalMs: number[] = [];
	readonly retryAfter: number[] = [];
	refusedWithoutRetryAfter = 0;
	readonly receiveMs: number[] = [];
	deliveries = 0;
	duplicates = 0;
	/** Deliveries owed and made for accepted sends only: a refused send owes nothing. */
	expectedOk = 0;
	deliveredOk = 0;
	sendSeconds = 0;
	elapsedSeconds = 0;
	private readonly started = performance.now();

	/** `ackTimeoutMs`: a send unanswered this long counts as timed out. */
	constructor(
		readonly rate: number,
		readonly ackTimeoutMs = 10000
	) {}

	get outstanding() {
		return this.expectedOk - this.deliveredOk;
	}

	finishClock() {
		this.elapsedSeconds = (performance.now() - this.started) / 1000;
	}

	/** Per accepted send: recipients that never got it. */
	get lost() {
		let lost = 0;
		for (const r of this.records.values())
			if (r.status === "ok") lost += Math.max(0, r.expected - r.receivedBy.size);
		return lost;
	}

	/** Accepted sends that not one recipient got. */
	get ackedUnpushed() {
		let count = 0;
		for (const r of this.records.values())
			if (r.status === "ok" && r.expected > 0 && r.receivedBy.size === 0) count++;
		return count;
	}

	/** Sends refused (or unanswered) whose message reached someone all the same. */
	pushedWithout(status: Status) {
		let count = 0;
		for (const r of this.records.values()) if (r.status === status && r.receivedBy.size > 0) count++;
		return count;
	}
}

export interface Connected {
	connected: number;
	failed: number;
	seconds: number;
	firstError?: string;
}

export class LoadDriver {
	private readonly sockets: Array<Socket | undefined> = [];
	private readonly records = new Map<string, SendRecord>();
	private nextKey = 0;
	/** Makes clientMsgIds unique across runs against the same database. */
	private readonly runTag = Date.now().toString(36);
	lastPushAt = performance.now();

	constructor(
		private readonly baseUrl: string,
		readonly population: Population
	) {}

	async connect(concurrency: number): Promise<Connected> {
		const start = performance.now();
		let failed = 0;
		let firstError: string | undefined;
		await mapLimit(this.population.members, concurrency, async member => {
			const socket = io(this.baseUrl, {
				auth: { token: member.token },
				transports: ["websocket"],
				reconnection: false,
				forceNew: true,
				timeout: 60000
			});
			try {
				await new Promise<void>((resolve, reject) => {
					socket.once("connect", () => resolve());
					socket.once("connect_error", reject);
				});
			} catch (err) {
				failed++;
				firstError ??= (err as Error).message;
				socket.close();
				return;
			}
			socket.on("message:new", (push: { message?: { content?: unknown } }) => this.received(member.index, push));
			this.sockets[member.index] = socket;
		});
		return {
			connected: this.population.members.length - failed,
			failed,
			seconds: (performance.now() - start) / 1000,
			firstError
		};
	}

	close() {
		for (const socket of this.sockets) socket?.close();
	}

	/** Sends one message as `member` to `conversationId`; the record fills in as the ack and pushes come. */
	send(phase: Phase, member: Member, conversationId: string): SendRecord | null {
		const socket = this.sockets[member.index];
		if (!socket) return null;
		const expected = (this.population.membersOf.get(conversationId) ?? []).filter(
			i => i !== member.index && this.sockets[i]
		).length;
		const key = String(++this.nextKey);
		const sentAt = performance.now();
		const record: SendRecord = { phase, sentAt, expected, receivedBy: new Set(), status: "pending" };
		this.records.set(key, record);
		phase.records.set(key, record);
		phase.sent++;
		const payload = {
			conversationId,
			clientMsgId: `b-${this.runTag}-${key}`,
			type: "text",
			content: JSON.stringify({ k: key, t: sentAt })
		};
		phase.inFlight.push(
			socket
				.timeout(phase.ackTimeoutMs)
				.emitWithAck("message:send", payload)
				.then(
					(ack: Ack) => this.acked(record, ack),
					() => {
						record.status = "timeout";
						phase.timedOut++;
					}
				)
		);
		return record;
	}

	/**
	 * Open-loop load: `rate` sends a second for `seconds`, each from a member `pick` chooses, paced
	 * by the clock and not by the acks, so a slow server meets the full rate.
	 */
	async drive(phase: Phase, seconds: number, pick: () => [Member, string]) {
		const total = Math.round(phase.rate * seconds);
		const start = performance.now();
		for (let n = 0; n < total; n++) {
			const wait = start + (n * 1000) / phase.rate - performance.now();
			if (wait > 1) await sleep(wait);
			else if (n % 50 === 0) await yieldToEvents();
			const [member, conversationId] = pick();
			this.send(phase, member, conversationId);
		}
		phase.sendSeconds = (performance.now() - start) / 1000;
	}

	/** Waits for every ack (or its timeout), then for the deliveries owed, until `quietMs` pass without one. */
	async settle(phase: Phase, quietMs: number) {
		await Promise.all(phase.inFlight);
		let last = -1;
		let quietSince = performance.now();
		while (phase.outstanding > 0 && performance.now() - quietSince < quietMs) {
			if (phase.deliveredOk !== last) {
				last = phase.deliveredOk;
				quietSince = performance.now();
			}
			await sleep(20);
		}
		phase.finishClock();
	}

	/** Forgets a phase: its late pushes are ignored from now on. */
	discard(phase: Phase) {
		for (const key of phase.records.keys()) this.records.delete(key);
	}

	/** Waits until no push at all arrived for `quietMs` (bounded by `maxMs`): the server has worked off what it held. */
	async quiet(quietMs: number, maxMs: number) {
		const start = performance.now();
		while (performance.now() - this.lastPushAt < quietMs && performance.now() - start < maxMs) await sleep(100);
	}

	private acked(record: SendRecord, ack: Ack) {
		const { phase } = record;
		const ms = performance.now() - record.sentAt;
		record.ackMs = ms;
		if (ack?.ok && ack.message) {
			record.status = "ok";
			phase.accepted++;
			phase.ackMs.push(ms);
			phase.expectedOk += record.expected;
			phase.deliveredOk += record.receivedBy.size;
			return;
		}
		const code = ack?.error?.code ?? "NO_ERROR_CODE";
		if (code === OVERLOADED) {
			record.status = "refused";
			phase.refused++;
			phase.refusalMs.push(ms);
			const retryAfter = ack.error?.details?.retryAfter;
			if (typeof retryAfter === "number") phase.retryAfter.push(retryAfter);
			else phase.refusedWithoutRetryAfter++;
			return;
		}
		record.status = "failed";
		phase.failed++;
		phase.errors.set(code, (phase.errors.get(code) ?? 0) + 1);
	}

	private received(index: number, push: { message?: { content?: unknown } }) {
		const now = performance.now();
		this.lastPushAt = now;
		let sent: { k?: string; t?: number };
		try {
			sent = JSON.parse(String(push?.message?.content));
		} catch {
			return;
		}
		const record = sent.k === undefined ? undefined : this.records.get(sent.k);
		if (!record) return;
		const { phase } = record;
		if (record.receivedBy.has(index)) {
			phase.duplicates++;
			return;
		}
		record.receivedBy.add(index);
		record.lastReceivedAt = now;
		phase.deliveries++;
		phase.receiveMs.push(now - record.sentAt);
		if (record.status === "ok") phase.deliveredOk++;
	}
}

/** The usual sender choice: a random member, to its group `groupShare` of the time, else to its 1:1 conversation. */
export function randomPick(population: Population, groupShare: number): () => [Member, string] {
	const senders = population.members.filter(m => m.direct || m.group);
	if (senders.length === 0) throw new Error("no member has a conversation to send to");
	return () => {
		const member = senders[Math.floor(Math.random() * senders.length)];
		const toGroup = member.group && (!member.direct || Math.random() < groupShare);
		return [member, (toGroup ? member.group : member.direct)!];
	};
}
