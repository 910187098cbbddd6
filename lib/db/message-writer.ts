import { performance } from "perf_hooks";
import { Model, QueryTypes, Transaction } from "sequelize";
import { GoChatError, toHttpError } from "../errors";
import type { Message, MessageType } from "../types";
import { isUniqueViolation, type Database } from "./database";
import { plain } from "./models";

/** A message as logic hands it to repo: everything but the seq and the time, which storing decides. */
export interface NewMessage {
	id: string;
	conversationId: string;
	senderId: string;
	type: MessageType;
	content: string;
	clientMsgId: string;
}

export interface AppendResult {
	message: Message;
	/** True when the sender's clientMsgId was already stored: `message` is the original. */
	duplicate: boolean;
}

interface Pending {
	message: NewMessage;
	/** performance.now() after which the caller has given up: never commit it then. */
	deadline: number;
	resolve(result: AppendResult): void;
	reject(err: unknown): void;
}

/** Thrown inside a batch's transaction to roll it back when a caller's deadline passed before commit. */
class DeadlinePassed extends Error {}

/** One multi-row INSERT per batch, as plain SQL: Sequelize's bulkCreate builds a model instance per row. */
const MESSAGE_COLUMNS = [
	"id",
	"conversation_id",
	"sender_id",
	"type",
	"content",
	"seq",
	"client_msg_id",
	"created_at"
] as const;

const dedupKey = (senderId: string, clientMsgId: string) => `${senderId}\u0000${clientMsgId}`;

function deadlineExceeded(): GoChatError {
	return new GoChatError(
		"SERVICE_UNAVAILABLE",
		"The message could not be stored in time; it was not stored, send it again"
	);
}

/**
 * Group commit of the send path (docs/architecture.md#send-path). Sends that arrive while a batch is being
 * written wait for the next one, and each batch is one transaction: the conversations' rows are
 * locked, every message takes the next seq of its conversation, all rows go in one multi-row
 * insert, and each conversation and sender read position is updated once. Seqs come from the
 * conversation row, so they can never fall behind the database, and a rolled-back message spends
 * none. A batch that fails is retried one message per transaction, so a bad message fails alone.
 * The database's unique key on (sender, clientMsgId) is the final judge of duplicates; a resend of
 * a message still queued or being written here waits for that write instead of asking again.
 */
export class MessageWriter {
	private queue: Pending[] = [];
	private writing = false;
	private readonly inFlight = new Map<string, Promise<AppendResult>>();
	batches = 0;
	messages = 0;

	constructor(
		private readonly db: Database,
		/** Told of every committed batch (repo updates its hot cache). */
		private readonly onCommitted: (messages: Message[]) => void = () => undefined,
		private readonly maxBatch = 256
	) {}

	append(message: NewMessage, deadline = Infinity): Promise<AppendResult> {
		const key = dedupKey(message.senderId, message.clientMsgId);
		const running = this.inFlight.get(key);
		if (running) {
			// A resend waits for the original; if that one fails (its caller's deadline, say), the resend goes on its own.
			return running.then(
				({ message: original }) => ({ message: original, duplicate: true }),
				() => this.append(message, deadline)
			);
		}
		const result = new Promise<AppendResult>((resolve, reject) => {
			this.queue.push({ message, deadline, resolve, reject });
		});
		this.inFlight.set(key, result);
		const forget = () => this.inFlight.delete(key);
		result.then(forget, forget);
		this.drain();
		return result;
	}

	/** Writes batches one after another while sends are waiting; the next batch forms during the current one. */
	private drain(): void {
		if (this.writing || this.queue.length === 0) return;
		this.writing = true;
		const batch = this.queue.splice(0, this.maxBatch);
		this.writeBatch(batch)
			.catch(err => batch.forEach(p => p.reject(err)))
			.finally(() => {
				this.writing = false;
				this.drain();
			});
	}

	private async writeBatch(batch: Pending[]): Promise<void> {
		const live = this.dropExpired(batch);
		if (live.length === 0) return;
		const fresh = await this.answerKnownDuplicates(live);
		if (fresh.length === 0) return;
		try {
			const stored = await this.commit(fresh);
			this.batches++;
			this.messages += fresh.length;
			this.onCommitted(stored);
			fresh.forEach((p, i) => p.resolve({ message: stored[i], duplicate: false }));
		} catch (err) {
			if (err instanceof DeadlinePassed) {
				// Rolled back: put the rest at the front, so they go in the very next batch.
				this.queue.unshift(...this.dropExpired(fresh));
				return;
			}
			if (fresh.length === 1) return this.settleAlone(fresh[0], err);
			// The database itself failed (down, locked): every message would fail alike, so fail them now.
			if (toHttpError(err).status === 503) return fresh.forEach(p => p.reject(err));
			// One bad message must not fail the others: each goes in a transaction of its own.
			for (const pending of fresh) await this.writeBatch([pending]);
		}
	}

	private dropExpired(batch: Pending[]): Pending[] {
		const now = performance.now();
		return batch.filter(p => {
			if (p.deadline > now) return true;
			p.reject(deadlineExceeded());
			return false;
		});
	}

	/** Resends of messages stored earlier (by this or another node) get their original, in one query. */
	private async answerKnownDuplicates(batch: Pending[]): Promise<Pending[]> {
		const stored = await this.findByClientMsgIds(batch.map(p => p.message));
		if (stored.size === 0) return batch;
		return batch.filter(p => {
			const original = stored.get(dedupKey(p.message.senderId, p.message.clientMsgId));
			if (original) p.resolve({ message: original, duplicate: true });
			return !original;
		});
	}

	private async settleAlone(pending: Pending, err: unknown): Promise<void> {
		if (isUniqueViolation(err)) {
			// Another node stored the same clientMsgId between our check and our insert.
			const original = (await this.findByClientMsgIds([pending.message])).values().next().value;
			if (original) return pending.resolve({ message: original, duplicate: true });
		}
		pending.reject(err);
	}

	private async commit(batch: Pending[]): Promise<Message[]> {
		return this.db.transaction(async transaction => {
			const lastSeqs = await this.lockConversations(batch, transaction);
			const now = new Date();
			const createdAt = this.sqlTime(now);
			const rows = batch.map(({ message: m }) => {
				const seq = lastSeqs.get(m.conversationId)! + 1;
				lastSeqs.set(m.conversationId, seq);
				return {
					id: m.id,
					conversation_id: m.conversationId,
					sender_id: m.senderId,
					type: m.type,
					content: m.content,
					seq,
					client_msg_id: m.clientMsgId,
					created_at: createdAt
				};
			});
			await this.db.sequelize.query(
				`INSERT INTO messages (${MESSAGE_COLUMNS.join(", ")}) VALUES ${rows.map(() => `(${MESSAGE_COLUMNS.map(() => "?").join(", ")})`).join(", ")}`,
				{
					replacements: rows.flatMap(row => MESSAGE_COLUMNS.map(column => row[column])),
					type: QueryTypes.INSERT,
					transaction
				}
			);
			const createdIso = now.toISOString();
			const messages = batch.map(({ message: m }, i): Message => ({
				id: m.id,
				conversationId: m.conversationId,
				senderId: m.senderId,
				type: m.type,
				content: m.content,
				seq: rows[i].seq,
				clientMsgId: m.clientMsgId,
				createdAt: createdIso
			}));
			await this.advanceConversations(messages, createdAt, transaction);
			await this.advanceSenders(messages, transaction);
			// Statements are done; a caller that gave up meanwhile must not find its message stored later.
			if (batch.some(p => p.deadline <= performance.now())) throw new DeadlinePassed();
			return messages;
		});
	}

	/** The conversations' current last seq, their rows locked until commit (MySQL; SQLite has one writer). */
	private async lockConversations(batch: Pending[], transaction: Transaction): Promise<Map<string, number>> {
		const ids = [...new Set(batch.map(p => p.message.conversationId))].sort();
		const forUpdate = this.db.sequelize.getDialect() === "sqlite" ? "" : " FOR UPDATE";
		const rows = await this.select<{ id: string; last_seq: number | string }>(
			`SELECT id, last_seq FROM conversations WHERE id IN (${ids.map(() => "?").join(", ")}) ORDER BY id${forUpdate}`,
			ids,
			transaction
		);
		const lastSeqs = new Map(rows.map(row => [String(row.id), Number(row.last_seq)]));
		const missing = ids.find(id => !lastSeqs.has(id));
		if (missing) throw new GoChatError("CONVERSATION_NOT_FOUND", `No such conversation: ${missing}`);
		return lastSeqs;
	}

	/** One UPDATE for every conversation of the batch: its newest seq and message. */
	private async advanceConversations(messages: Message[], at: string, transaction: Transaction): Promise<void> {
		const newest = new Map<string, Message>();
		for (const m of messages) newest.set(m.conversationId, m);
		const ids = [...newest.keys()];
		const seqCase = ids.map(() => "WHEN ? THEN ?").join(" ");
		const idCase = ids.map(() => "WHEN ? THEN ?").join(" ");
		await this.db.sequelize.query(
			`UPDATE conversations SET last_seq = CASE id ${seqCase} END, last_message_id = CASE id ${idCase} END, updated_at = ? ` +
				`WHERE id IN (${ids.map(() => "?").join(", ")})`,
			{
				replacements: [
					...ids.flatMap(id => [id, newest.get(id)!.seq]),
					...ids.flatMap(id => [id, newest.get(id)!.id]),
					at,
					...ids
				],
				type: QueryTypes.UPDATE,
				transaction
			}
		);
	}

	/**
	 * A sender has read what they sent: one UPDATE moves every sender's read position forward.
	 * The one write of conversation_members outside repo.members, on purpose: it belongs to the
	 * send's own transaction (a read position never passes a message that was rolled back), and
	 * a call to repo.members per batch would add a round trip to every send.
	 */
	private async advanceSenders(messages: Message[], transaction: Transaction): Promise<void> {
		const highest = new Map<string, { conversationId: string; userId: string; seq: number }>();
		for (const m of messages)
			highest.set(`${m.conversationId} ${m.senderId}`, {
				conversationId: m.conversationId,
				userId: m.senderId,
				seq: m.seq
			});
		const pairs = [...highest.values()];
		const match = "(conversation_id = ? AND user_id = ?)";
		await this.db.sequelize.query(
			`UPDATE conversation_members SET read_seq = CASE ${pairs.map(() => `WHEN ${match} THEN ?`).join(" ")} ELSE read_seq END ` +
				`WHERE ${pairs.map(() => `(${match} AND read_seq < ?)`).join(" OR ")}`,
			{
				replacements: [
					...pairs.flatMap(p => [p.conversationId, p.userId, p.seq]),
					...pairs.flatMap(p => [p.conversationId, p.userId, p.seq])
				],
				type: QueryTypes.UPDATE,
				transaction
			}
		);
	}

	private async findByClientMsgIds(messages: NewMessage[]): Promise<Map<string, Message>> {
		// Mapped to the Message model (columns to attributes) without its PRAGMA round trips on SQLite.
		const rows = (await this.db.sequelize.query(
			`SELECT * FROM messages WHERE ${messages.map(() => "(sender_id = ? AND client_msg_id = ?)").join(" OR ")}`,
			{
				replacements: messages.flatMap(m => [m.senderId, m.clientMsgId]),
				model: this.db.models.Message,
				mapToModel: true
			}
		)) as Model[];
		return new Map(
			rows.map(row => {
				const message = plain<Message>(row);
				return [dedupKey(message.senderId, message.clientMsgId), message];
			})
		);
	}

	/**
	 * A time as the models store it, with milliseconds: Sequelize escapes a Date replacement to
	 * whole seconds on MySQL, and SQLite keeps the text as given.
	 */
	private sqlTime(date: Date): string {
		const iso = date.toISOString();
		const text = `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
		return this.db.sequelize.getDialect() === "sqlite" ? `${text} +00:00` : text;
	}

	/**
	 * Plain SQL for the two reads of every batch: Sequelize's model reads on SQLite first ask
	 * PRAGMA table_info for every table they name, doubling the round trips of the hot path.
	 */
	private select<T>(sql: string, replacements: unknown[], transaction?: Transaction): Promise<T[]> {
		return this.db.sequelize.query(sql, {
			replacements,
			type: QueryTypes.SELECT,
			transaction,
			raw: true
		}) as Promise<T[]>;
	}
}
